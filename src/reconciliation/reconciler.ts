import { randomUUID } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import type pg from 'pg'
import type { Logger } from 'pino'
import type { CirclePort } from '../adapters/circle/port.ts'
import type { Db } from '../adapters/postgres/database.ts'
import type { Config } from '../config.ts'
import type { EventStore } from '../events/event-store.ts'
import type { ReconciliationTrigger } from '../events/reconciliation.ts'
import { LeasedLoop, tryLease } from '../subscriptions/lease.ts'
import { checkBalances } from './balances.ts'
import { addFindings, closeAbandonedRuns, finishRun, lastHighWaterMark, lastTreasury, startRun, storedRun, type Run } from './runs.ts'
import { checkTreasury } from './treasury.ts'
import { checkStale } from './stale.ts'
import { checkUnknown } from './unknown.ts'

export interface ReconcilerDeps {
  db: Db
  /** For the locks: one scheduler, and one run at a time, across processes. */
  pool: pg.Pool
  store: EventStore
  circle: CirclePort
  logger: Logger
}

export interface ReconcileOptions {
  /** Operations not terminal after this long are looked up (ms). */
  staleAfterMs: number
  /** Circle resources younger than this are left to the next run (ms). */
  graceMs: number
  /** Circle calls in flight at once; the adapter's rate limiter still paces them. */
  concurrency?: number
  /** Pause before a balance difference is looked at again (ms). */
  recheckMs?: number
  /** Stops a run between two Circle calls; the run is stored as failed. */
  signal?: AbortSignal | undefined
}

/**
 * A run's options from the configuration. A balance difference is looked at again after two of the
 * deposit poller's intervals (at least 0.5 s, at most 15 s): a deposit Circle completed just before
 * the run, which the ledger has not recorded yet, is not in flight anywhere, and would otherwise
 * read as a mismatch of its amount.
 */
export const reconcileOptionsOf = (config: Pick<Config, 'RECONCILE_STALE_AFTER' | 'RECONCILE_GRACE' | 'CIRCLE_POLL_INTERVAL_MS'>): ReconcileOptions => ({
  staleAfterMs: config.RECONCILE_STALE_AFTER,
  graceMs: config.RECONCILE_GRACE,
  recheckMs: Math.min(15_000, Math.max(500, 2 * config.CIRCLE_POLL_INTERVAL_MS)),
})

export type Phase = 'stale' | 'balances' | 'unknown'
export type OnProgress = (phase: Phase, done: number, total: number) => void

/** Another run holds the run lock. */
export class RunInProgress extends Error {
  override name = 'RunInProgress'
}

const RUN_LOCK = 'reconciliation-run'
// Listings overlap the previous run's by this much: a resource Circle dated just before the mark
// but listed late is not missed. Already reported ones are not reported twice.
const OVERLAP_MS = 60_000

/**
 * Starts a run: takes the run lock (RunInProgress when another run holds it), stores the run, and
 * returns it with a promise of the finished run. Findings are stored as they are found.
 */
export async function beginRun(
  deps: ReconcilerDeps,
  options: ReconcileOptions,
  trigger: ReconciliationTrigger,
  onProgress: OnProgress = () => undefined,
): Promise<{ run: Run; finished: Promise<Run> }> {
  const lock = await tryLease(deps.pool, RUN_LOCK)
  if (!lock) throw new RunInProgress('a reconciliation run is in progress; read it with GET /admin/reconciliation/runs')
  let run: Run
  try {
    const abandoned = await closeAbandonedRuns(deps.db, deps.store)
    if (abandoned.length > 0) deps.logger.warn({ runIds: abandoned }, 'reconciliation runs left running by a process that ended mid-run are recorded as failed')
    run = await startRun(deps.db, deps.store, trigger, randomUUID())
  } catch (err) {
    await lock.release()
    throw err
  }
  // A run that lost its lock (the lock's connection ended) stops: the next run to take the lock
  // would close it as abandoned while it went on.
  const signal = options.signal ? AbortSignal.any([options.signal, lock.lost]) : lock.lost
  const finished = execute(deps, { ...options, signal }, run, onProgress).finally(() => lock.release())
  return { run, finished }
}

/** A whole run, waited for. */
export async function reconcile(deps: ReconcilerDeps, options: ReconcileOptions, trigger: ReconciliationTrigger, onProgress?: OnProgress): Promise<Run> {
  return (await beginRun(deps, options, trigger, onProgress)).finished
}

async function execute(deps: ReconcilerDeps, options: ReconcileOptions, run: Run, onProgress: OnProgress): Promise<Run> {
  const concurrency = options.concurrency ?? 4
  const checked: Record<string, number> = {}
  const previous = await lastHighWaterMark(deps.db)
  const listedFrom = previous ? new Date(previous.getTime() - OVERLAP_MS) : undefined
  const highWaterMark = new Date(Date.parse(run.startedAt) - options.graceMs)
  try {
    const stale = await checkStale({ ...deps, signal: options.signal }, options.staleAfterMs, (d, t) => onProgress('stale', d, t))
    await addFindings(deps.db, run.id, stale.findings)
    checked.operations = stale.checked
    options.signal?.throwIfAborted()

    const balances = await checkBalances({ ...deps, signal: options.signal }, { concurrency, recheckMs: options.recheckMs ?? 500 }, (d, t) => onProgress('balances', d, t))
    await addFindings(deps.db, run.id, balances.findings)
    checked.wallets = balances.checked

    options.signal?.throwIfAborted()
    const treasury = await checkTreasury(deps, await lastTreasury(deps.db))
    await addFindings(deps.db, run.id, treasury.findings)

    const unknown = await checkUnknown({ ...deps, signal: options.signal }, run.id, { ...(listedFrom ? { from: listedFrom } : {}), to: highWaterMark }, balances.circleWalletIds, (d, t) => onProgress('unknown', d, t))
    await addFindings(deps.db, run.id, unknown.findings)
    checked.circleTransfers = unknown.transfersListed
    checked.circlePayouts = unknown.payoutsListed
    // Stopped after its last check's last call: still a run that was stopped, not a finished one.
    options.signal?.throwIfAborted()
    const done = await finishRun(deps.db, deps.store, run.id, { ...(listedFrom ? { listedFrom } : {}), highWaterMark, checked, treasury: treasury.snapshot })
    deps.logger.info({ runId: run.id, outcome: done.outcome, counts: done.counts }, 'reconciliation run finished')
    return done
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err)
    deps.logger.error({ err, runId: run.id }, 'reconciliation run failed')
    return finishRun(deps.db, deps.store, run.id, { checked, error: message }).catch(() => storedRun(deps.db, run.id))
  }
}

export interface SchedulerOptions extends ReconcileOptions {
  intervalMs: number
  /** Wait before the first run after taking the lease; the interval when unset. */
  firstRunMs?: number | undefined
  leaseRetryMs?: number
}

/**
 * The reconciler role: one active instance across processes (a lease), a run every `intervalMs`.
 * A run already going (started from the CLI or HTTP) makes the scheduled one skip its turn.
 */
export class Reconciler {
  private readonly deps: ReconcilerDeps
  private readonly options: SchedulerOptions
  private readonly lease: LeasedLoop

  constructor(deps: ReconcilerDeps, options: SchedulerOptions) {
    this.deps = deps
    this.options = { ...options }
    this.lease = new LeasedLoop({ pool: deps.pool, name: 'reconciler', retryMs: options.leaseRetryMs, whileLeased: (signal) => this.whileLeased(signal) })
  }

  /** Holds the lease: this instance runs the scheduled reconciliations. */
  get active(): boolean {
    return this.lease.active
  }

  start(): void {
    this.lease.start()
  }

  stop(): Promise<void> {
    return this.lease.stop()
  }

  private async whileLeased(held: AbortSignal): Promise<void> {
    this.deps.logger.info('reconciler active')
    // The first run comes one interval after taking the lease: a restart storm never floods Circle.
    for (;;) {
      await sleep(this.options.firstRunMs ?? this.options.intervalMs, undefined, { signal: held }).catch(() => undefined)
      if (held.aborted) break
      try {
        await reconcile(this.deps, { ...this.options, signal: held }, 'schedule')
      } catch (err) {
        if (err instanceof RunInProgress) this.deps.logger.info('a reconciliation run is in progress; skipping this turn')
        else this.deps.logger.error({ err }, 'reconciliation run could not start')
      }
      this.options.firstRunMs = undefined
    }
  }
}
