import type pg from 'pg'
import type { Logger } from 'pino'
import type { CardIssuer } from '../adapters/card-issuer/port.ts'
import type { CirclePort } from '../adapters/circle/port.ts'
import type { Db } from '../adapters/postgres/database.ts'
import { backoffDelay } from '../adapters/retry.ts'
import { openDeadLetter, refreshDeadLetter } from '../dead-letters/dead-letters.ts'
import { fold } from '../events/fold.ts'
import type { EventStore } from '../events/event-store.ts'
import type { DomainEvent } from '../events/types.ts'
import { redeem } from '../events/redeem.ts'
import type { Metrics } from '../metrics.ts'
import { Doorbell, holdClaim, workClaimed } from '../subscriptions/doorbell.ts'
import { LeasedLoop } from '../subscriptions/lease.ts'
import { Subscriber } from '../subscriptions/subscriber.ts'
import { lastProcessedAt } from '../webhooks/inbox.ts'
import type { Step, StepContext } from './context.ts'
import { bankAccountStep } from './steps/bank-account.ts'
import { cardStep } from './steps/card.ts'
import { mintStep } from './steps/mint.ts'
import { redeemStep } from './steps/redeem.ts'
import { transferStep } from './steps/transfer.ts'
import { walletStep } from './steps/wallet.ts'
import { claimDue, renewClaim, settle, wake, type Outcome, type Task, type TaskKind } from './tasks.ts'

const steps: Record<TaskKind, Step> = {
  wallet: walletStep,
  bankaccount: bankAccountStep,
  mint: mintStep,
  redeem: redeemStep,
  transfer: transferStep,
  card: cardStep,
}

/** Events after which an operation may need a call to Circle or the card issuer. */
export const ACTIONABLE_EVENTS = [
  'WalletCreationRequested',
  'DepositAddressRequested',
  'BankAccountLinkRequested',
  'BankAccountSubmitted',
  'MintRequested',
  'MintTreasuryChecked',
  'MintSubmitted',
  'RedeemRequested',
  'RedeemTransferSubmitted',
  'RedeemTransferCompleted',
  'RedeemPayoutSubmitted',
  'RedeemPayoutFailed',
  'RedeemCompensationSubmitted',
  'RedeemCompensationFailed',
  'TransferRequested',
  'TransferSubmitted',
  'CardRequested',
  'CardFrozen',
  'CardUnfrozen',
  'CardClosed',
  'CardActionRequested',
] satisfies readonly DomainEvent['type'][]

export interface ProcessManagerOptions {
  store: EventStore
  db: Db
  /** For the lease that keeps one active instance across processes. */
  pool: pg.Pool
  circle: CirclePort
  issuer: CardIssuer
  logger: Logger
  /** Counts operation steps and Circle calls, when given. */
  metrics?: Metrics
  /** How long an operation stays processing at Circle before we ask Circle again (ms). */
  pollMs?: number
  /** After this long a bank account Circle never received fails as submission_abandoned (ms); the Idempotency-Key TTL. */
  submissionAbandonMs?: number
  /** Idle pause between looks for due work (ms). */
  tickMs?: number
  concurrency?: number
  /**
   * A claimed task is retaken after this long if its worker died (s); a live worker renews the claim
   * every third of it while the step runs, however long that is.
   */
  claimSeconds?: number
  retry?: { baseMs: number; maxMs: number }
  leaseRetryMs?: number
  /** A task failing this many times in a row becomes a dead letter (TASK_MAX_ATTEMPTS). */
  maxAttempts?: number
  /** ... or failing for this long since its first failure in the run (TASK_MAX_AGE, ms). */
  maxAgeMs?: number
  /**
   * While verified webhooks arrive (one within `windowMs`), completions come from them and polling
   * Circle is only the fallback: the poll interval grows to `pollMs`.
   */
  webhookBackoff?: { pollMs: number; windowMs: number }
}

/**
 * Runs every operation against Circle. A transactional subscriber turns actionable events into due
 * tasks (exactly once, with its checkpoint); a worker takes due tasks and performs the next step
 * from the operation's folded state, recording the outcome as events. State-driven steps and
 * deterministic Circle keys make a crash at any point safe: the same request is sent again and
 * Circle answers with the original resource.
 */
export class ProcessManager {
  private readonly options: ProcessManagerOptions
  private readonly ctx: StepContext
  private readonly subscriber: Subscriber
  private readonly doorbell = new Doorbell()
  private readonly lease: LeasedLoop
  private readonly claimSeconds: number
  /** When the newest verified webhook was received (epoch ms), looked up from the inbox now and then. */
  lastWebhookAt = 0

  constructor(options: ProcessManagerOptions) {
    this.options = options
    // Short, since a dead instance's claims are retaken only once they expire (a restart after a crash
    // waits that long); renewal, not length, covers a slow step.
    this.claimSeconds = options.claimSeconds ?? 15
    const pm = this
    this.ctx = {
      store: options.store,
      circle: options.circle,
      issuer: options.issuer,
      submissionAbandonMs: options.submissionAbandonMs ?? 24 * 3_600_000,
      logger: options.logger,
      metrics: options.metrics,
      get pollMs() {
        const backoff = options.webhookBackoff
        const base = options.pollMs ?? 5000
        return backoff && Date.now() - pm.lastWebhookAt < backoff.windowMs ? Math.max(base, backoff.pollMs) : base
      },
    }
    this.subscriber = new Subscriber({
      name: 'process-manager',
      store: options.store,
      db: options.db,
      filter: { types: ACTIONABLE_EVENTS },
      logger: options.logger,
      mode: 'exactly-once',
      handle: async (trx, events) => {
        await wake(trx, events.map((e) => e.stream))
      },
      // Only after the commit can the worker's claim see the tasks this batch made due; rung
      // earlier, it would find nothing and sleep a whole tick.
      onCommitted: () => this.doorbell.ring(),
    })
    this.lease = new LeasedLoop({
      pool: options.pool,
      name: 'process-manager',
      retryMs: options.leaseRetryMs,
      whileLeased: (signal) => this.whileLeased(signal),
      onLeaseLost: () => options.logger.warn('process manager lost its lease; waiting to take it again'),
    })
  }

  /** Holds the lease: this instance runs the operations. */
  get active(): boolean {
    return this.lease.active
  }

  get lag() {
    return this.subscriber.status().then((s) => s.lag)
  }

  start(): void {
    this.lease.start()
  }

  async stop(): Promise<void> {
    const stopped = this.lease.stop()
    this.doorbell.ring()
    await stopped
  }

  private async whileLeased(signal: AbortSignal): Promise<void> {
    // Claims are not released here: an instance that lost its lease still finishes (and renews) the
    // tasks it runs, and may not even know yet that it lost it. A dead one's claims expire unrenewed
    // within `claimSeconds` and are then claimed like any due task.
    this.options.logger.info('process manager active')
    this.subscriber.start()
    try {
      await this.work(signal)
    } finally {
      await this.subscriber.stop()
    }
  }

  /** Keeps up to `concurrency` tasks in flight; one slow Circle call never holds up the others. */
  private async work(signal: AbortSignal): Promise<void> {
    const { db, webhookBackoff } = this.options
    let watchedAt = 0
    await workClaimed(this.doorbell, signal, {
      concurrency: this.options.concurrency ?? 8,
      tickMs: this.options.tickMs ?? 250,
      beforeClaim: async () => {
        if (!webhookBackoff || Date.now() - watchedAt <= 5000) return
        watchedAt = Date.now()
        await this.watchWebhooks()
      },
      claim: (limit) => claimDue(db, limit, this.claimSeconds),
      run: (task) => this.runTask(task),
      onClaimError: (err) => this.options.logger.error({ err }, 'could not claim process-manager tasks'),
    })
  }

  /**
   * Retries are spent: the task becomes a dead letter and its operation is flagged, so a person sees
   * it (admin API, CLI, /metrics, an error log line) instead of a silent retry forever.
   */
  private async deadLetter(task: Task, attempts: number, error: string): Promise<Outcome> {
    try {
      // A runner that lost its claim records nothing, and opens no dead letter for the task either.
      if (!(await renewClaim(this.options.db, task, this.claimSeconds))) return { next: 'retry', inMs: 0, error }
      const attention = await attentionOf(this.options.store, task)
      if (task.deadLetterId !== undefined) {
        // An event woke the task from behind its still open dead letter, and the step fails again
        // (often the event was one its own failed run wrote): parked behind the same one, which now
        // shows this failure; no second dead letter.
        const entry = { deadLetterId: task.deadLetterId, subject: task.stream, error, attempts, attention }
        await refreshDeadLetter(this.options.store, this.options.db, entry, 'process-manager', task.version)
        this.options.logger.error({ stream: task.stream, attempts, error, deadLetterId: task.deadLetterId, attention }, 'operation step keeps failing; still set aside behind its open dead letter')
        return { next: 'dead', deadLetterId: task.deadLetterId, error, opened: false }
      }
      const deadLetterId = await openDeadLetter(
        this.options.store,
        this.options.db,
        { kind: 'task', subject: task.stream, detail: task.kind, error, attempts, attention },
        'process-manager',
        // The task's version stays while this run of failures is retried (so a dead letter opened
        // again after its settle failed is the same one) and is bumped by an admin's replay.
        task.version,
      )
      this.options.logger.error({ stream: task.stream, attempts, error, deadLetterId, attention }, 'operation step keeps failing; set aside as a dead letter')
      return { next: 'dead', deadLetterId, error, opened: true }
    } catch (err) {
      this.options.logger.error({ err, stream: task.stream }, 'could not record a dead letter; will retry the task')
      return { next: 'retry', inMs: this.options.retry?.maxMs ?? 60_000, error }
    }
  }

  private async watchWebhooks(): Promise<void> {
    try {
      // Webhooks count once a worker has processed them: received but unprocessed ones (no worker
      // running, or one far behind) must not slow the fallback down.
      const last = await lastProcessedAt(this.options.db)
      if (last) this.lastWebhookAt = Math.max(this.lastWebhookAt, last.getTime())
    } catch (err) {
      this.options.logger.warn({ err }, 'could not read the webhook inbox; polling at the normal interval')
    }
  }

  private async runTask(task: Task): Promise<void> {
    const stopRenewing = holdClaim(() => renewClaim(this.options.db, task, this.claimSeconds), this.claimSeconds, this.options.logger, { stream: task.stream })
    let outcome: Outcome
    try {
      outcome = await this.attempt(task)
    } finally {
      stopRenewing()
    }
    try {
      if (!(await settle(this.options.db, task, outcome))) {
        this.options.logger.warn({ stream: task.stream, outcome: outcome.next }, 'a task lost its claim before it settled; the runner holding it now settles it')
        return
      }
      if (outcome.next === 'dead' && outcome.opened) this.options.metrics?.deadLetters.inc({ source: 'task', kind: task.kind })
    } catch (err) {
      this.options.logger.error({ err, stream: task.stream }, 'could not settle a task; its claim will expire')
    }
  }

  /** Runs the task's step once; a failure is retried with backoff or, past the bounds, dead-lettered. */
  private async attempt(task: Task): Promise<Outcome> {
    const { baseMs, maxMs } = this.options.retry ?? { baseMs: 500, maxMs: 60_000 }
    try {
      const outcome = await steps[task.kind](this.ctx, task.entityId)
      this.options.metrics?.taskAttempts.inc({ kind: task.kind, result: 'ok' })
      return outcome
    } catch (err) {
      this.options.metrics?.taskAttempts.inc({ kind: task.kind, result: 'failed' })
      const error = err instanceof Error ? err.message : String(err)
      const attempts = task.attempts + 1
      const failingMs = task.firstFailedAt ? Date.now() - task.firstFailedAt.getTime() : 0
      if (attempts >= (this.options.maxAttempts ?? 10) || failingMs >= (this.options.maxAgeMs ?? 3_600_000)) {
        return this.deadLetter(task, attempts, error)
      }
      this.options.logger.warn({ err, stream: task.stream, attempts }, 'operation step failed; will retry')
      return { next: 'retry', inMs: backoffDelay(task.attempts, { baseMs, maxMs }), error }
    }
  }
}

/** What an operation whose task was set aside shows in its `attention` field. */
async function attentionOf(store: EventStore, task: Task): Promise<string> {
  if (task.kind === 'redeem') {
    const { state } = await fold(store, redeem, task.entityId)
    if (state.phase === 'compensation_due' || state.phase === 'compensating') return 'compensation_failed'
    return 'circle_call_failed'
  }
  if (task.kind === 'card') return 'issuer_sync_failed'
  return 'circle_call_failed'
}
