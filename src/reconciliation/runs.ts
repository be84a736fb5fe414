import { randomUUID } from 'node:crypto'
import { sql } from 'kysely'
import type { Db } from '../adapters/postgres/database.ts'
import { insertRows } from '../adapters/postgres/insert-rows.ts'
import type { EventStore, ExpectedRevision } from '../events/event-store.ts'
import { formatAmount } from '../events/money.ts'
import { reconciliation, type ReconciliationOutcome, type ReconciliationTrigger } from '../events/reconciliation.ts'
import type { TreasurySnapshot } from './treasury.ts'
import { pageQuery, type Page, type PageRequest } from '../projections/pagination.ts'

/**
 * Kinds of finding. `operation_resolved`: Circle had settled an operation the ledger still showed
 * in flight; its outcome is now recorded (by events, actor reconciliation). The others are
 * reported only.
 */
export const FINDING_KINDS = ['operation_resolved', 'stale_operation', 'balance_mismatch', 'treasury_mismatch', 'unknown_transfer', 'unknown_deposit', 'unknown_payout', 'check_failed'] as const
export type FindingKind = (typeof FINDING_KINDS)[number]

export interface Finding {
  kind: FindingKind
  subject: string
  circleId?: string
  details: Record<string, unknown>
}

export interface StoredFinding extends Finding {
  id: string
  runId: string
  createdAt: string
}

export interface Run {
  id: string
  trigger: ReconciliationTrigger
  status: 'running' | 'completed' | 'failed'
  outcome: ReconciliationOutcome | null
  startedAt: string
  finishedAt: string | null
  listedFrom: string | null
  highWaterMark: string | null
  checked: Record<string, number>
  counts: Record<string, number>
  findings: number
  /** Circle's business balance when the run looked, decimal string. */
  treasuryBalance: string | null
  error: string | null
}

type RunRow = {
  id: string
  trigger: string
  status: string
  outcome: string | null
  created_at: Date
  finished_at: Date | null
  listed_from: Date | null
  high_water_mark: Date | null
  checked: Record<string, number>
  counts: Record<string, number>
  error: string | null
  treasury: TreasurySnapshot | null
}

const toRun = (r: RunRow): Run => ({
  id: r.id,
  trigger: r.trigger as ReconciliationTrigger,
  status: r.status as Run['status'],
  outcome: r.outcome as ReconciliationOutcome | null,
  startedAt: r.created_at.toISOString(),
  finishedAt: r.finished_at?.toISOString() ?? null,
  listedFrom: r.listed_from?.toISOString() ?? null,
  highWaterMark: r.high_water_mark?.toISOString() ?? null,
  checked: r.checked,
  counts: r.counts,
  findings: Object.values(r.counts).reduce((a, b) => a + b, 0),
  treasuryBalance: r.treasury ? formatAmount(BigInt(r.treasury.circleBalance)) : null,
  error: r.error,
})

const meta = (runId: string, occurredAt: string) => ({ correlationId: runId, causationId: runId, actor: 'reconciliation', occurredAt })

/** Stores a new run and appends ReconciliationRunStarted on its stream. */
export async function startRun(db: Db, store: EventStore, trigger: ReconciliationTrigger, runId: string = randomUUID()): Promise<Run> {
  const startedAt = new Date()
  await db.insertInto('reconciliation_runs').values({ id: runId, trigger, status: 'running', outcome: null, created_at: startedAt, error: null }).execute()
  await store.append(
    reconciliation.streamName(runId),
    [{ id: randomUUID(), type: 'ReconciliationRunStarted', data: { runId, trigger, startedAt: startedAt.toISOString() }, metadata: meta(runId, startedAt.toISOString()) }],
    { expected: 'no_stream' },
  )
  return storedRun(db, runId)
}

/**
 * Stores a check's findings, in one transaction: all of them or none. A run that finds every wallet
 * off (Circle answering zero balances, say) has one finding per wallet: `insertRows` writes them
 * with COPY or one JSON parameter, not a parameter per cell.
 */
export async function addFindings(db: Db, runId: string, findings: Finding[]): Promise<void> {
  if (findings.length === 0) return
  // Millisecond times, as the page cursor carries them.
  const createdAt = new Date()
  const rows = findings.map((f) => ({ id: randomUUID(), run_id: runId, kind: f.kind, subject: f.subject, circle_id: f.circleId ?? null, details: f.details, created_at: createdAt }))
  await db.transaction().execute((trx) => insertRows(trx, 'reconciliation_findings', rows))
}

/**
 * Closes a run with its outcome, counted from the stored findings, and appends
 * ReconciliationRunCompleted after its ReconciliationRunStarted (`expected`: another revision for a
 * run whose process ended before it was recorded as started).
 */
export async function finishRun(
  db: Db,
  store: EventStore,
  runId: string,
  result: { listedFrom?: Date; highWaterMark?: Date; checked: Record<string, number>; treasury?: TreasurySnapshot; error?: string },
  expected: ExpectedRevision = 0,
): Promise<Run> {
  const rows = await db.selectFrom('reconciliation_findings').select(['kind', sql<string>`count(*)`.as('n')]).where('run_id', '=', runId).groupBy('kind').execute()
  const counts = Object.fromEntries(rows.map((r) => [r.kind, Number(r.n)]))
  const findings = Object.values(counts).reduce((a, b) => a + b, 0)
  const outcome: ReconciliationOutcome = result.error !== undefined ? 'failed' : findings > 0 ? 'mismatches' : 'clean'
  const finishedAt = new Date()
  await db
    .updateTable('reconciliation_runs')
    .set({
      status: result.error !== undefined ? 'failed' : 'completed',
      outcome,
      finished_at: finishedAt,
      listed_from: result.listedFrom ?? null,
      high_water_mark: result.error !== undefined ? null : (result.highWaterMark ?? null),
      checked: JSON.stringify(result.checked),
      counts: JSON.stringify(counts),
      error: result.error ?? null,
      treasury: result.treasury ? JSON.stringify(result.treasury) : null,
    })
    .where('id', '=', runId)
    .execute()
  const data = { runId, outcome, findings, counts, checked: result.checked, ...(result.error === undefined ? {} : { error: result.error }) }
  await store.append(reconciliation.streamName(runId), [{ id: randomUUID(), type: 'ReconciliationRunCompleted', data, metadata: meta(runId, finishedAt.toISOString()) }], { expected })
  return storedRun(db, runId)
}

export const ABANDONED = 'abandoned: the process running it ended before it finished'

/**
 * Closes the runs a process left `running` when it ended mid-run (a crash, a kill -9; a stop or a
 * Ctrl-C records its run as failed itself): failed, with ABANDONED as the error, and their
 * ReconciliationRunCompleted. Called by a new run holding the run lock, which a live run holds
 * for as long as it goes on, so every run still `running` then is abandoned. Returns their ids.
 */
export async function closeAbandonedRuns(db: Db, store: EventStore): Promise<string[]> {
  const rows = await db.selectFrom('reconciliation_runs').select('id').where('status', '=', 'running').orderBy('created_at').execute()
  for (const { id } of rows) {
    // Its process may have ended between storing the run and recording it as started.
    const recorded = (await store.readStream(reconciliation.streamName(id))).length
    await finishRun(db, store, id, { checked: {}, error: ABANDONED }, recorded === 0 ? 'no_stream' : recorded - 1)
  }
  return rows.map((r) => r.id)
}

const runColumns = ['id', 'trigger', 'status', 'outcome', 'created_at', 'finished_at', 'listed_from', 'high_water_mark', 'checked', 'counts', 'error', 'treasury'] as const

export async function getRun(db: Db, runId: string): Promise<Run | undefined> {
  const row = await db.selectFrom('reconciliation_runs').select(runColumns).where('id', '=', runId).executeTakeFirst()
  return row ? toRun(row) : undefined
}

/** A run this process just wrote: missing means its row was removed under it. */
export async function storedRun(db: Db, runId: string): Promise<Run> {
  const run = await getRun(db, runId)
  if (run === undefined) throw new Error(`reconciliation run ${runId} has no row after it was written`)
  return run
}

export async function listRuns(db: Db, page: PageRequest): Promise<Page<Run>> {
  return pageQuery(db.selectFrom('reconciliation_runs').select(runColumns), page, toRun, { type: 'uuid' })
}

export async function listFindings(db: Db, runId: string, page: PageRequest & { kind?: FindingKind | undefined }): Promise<Page<StoredFinding>> {
  let q = db.selectFrom('reconciliation_findings').select(['id', 'run_id', 'kind', 'subject', 'circle_id', 'details', 'created_at']).where('run_id', '=', runId)
  if (page.kind !== undefined) q = q.where('kind', '=', page.kind)
  return pageQuery(q, page, (r) => ({
    id: r.id,
    runId: r.run_id,
    kind: r.kind as FindingKind,
    subject: r.subject,
    ...(r.circle_id === null ? {} : { circleId: r.circle_id }),
    details: r.details,
    createdAt: r.created_at.toISOString(),
  }), { type: 'uuid' })
}

/** Where the last successful run's listing ended: the next run lists Circle's resources from there. */
export async function lastHighWaterMark(db: Db): Promise<Date | undefined> {
  const row = await db.selectFrom('reconciliation_runs').select('high_water_mark').where('status', '=', 'completed').where('high_water_mark', 'is not', null).orderBy('high_water_mark', 'desc').limit(1).executeTakeFirst()
  return row?.high_water_mark ?? undefined
}

/** The treasury as the last successful run left it: what this run's treasury is compared with. */
export async function lastTreasury(db: Db): Promise<TreasurySnapshot | undefined> {
  const row = await db.selectFrom('reconciliation_runs').select('treasury').where('status', '=', 'completed').where('treasury', 'is not', null).orderBy('created_at', 'desc').limit(1).executeTakeFirst()
  return row?.treasury ?? undefined
}

/** Circle ids an earlier run already reported as unknown, so a resource is reported once. */
export async function alreadyReported(db: Db, runId: string, circleIds: string[]): Promise<Set<string>> {
  if (circleIds.length === 0) return new Set()
  // One array parameter: Circle may list more transfers than a statement takes parameters.
  const rows = await db
    .selectFrom('reconciliation_findings')
    .select('circle_id')
    .where('circle_id', '=', sql<string>`ANY(${circleIds}::text[])`)
    .where('run_id', '!=', runId)
    .where('kind', 'like', 'unknown_%')
    .execute()
  return new Set(rows.flatMap((r) => (r.circle_id === null ? [] : [r.circle_id])))
}
