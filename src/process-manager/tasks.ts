import { sql, type Transaction } from 'kysely'
import { wroteAny, type Db } from '../adapters/postgres/database.ts'
import type { Database } from '../database.ts'
import { parseStreamName } from '../events/stream-name.ts'

export type TaskKind = 'wallet' | 'bankaccount' | 'mint' | 'redeem' | 'transfer' | 'card'

export interface Task {
  stream: string
  kind: TaskKind
  entityId: string
  version: number
  attempts: number
  /** When the current run of failures began (undefined: the last run succeeded). */
  firstFailedAt: Date | undefined
  /** This claim's token: the claim is held only while the row still carries it. */
  claimToken: string
  /** The open dead letter the task was parked behind before an event woke it: failing again parks it behind this one. */
  deadLetterId: string | undefined
}

/**
 * Events on these streams make their tasks due now (and not done, whatever they were); one statement
 * per batch. A task parked behind a dead letter is woken too (the event may be news the failed run did
 * not have) but keeps its dead letter: failing again parks it behind the same one.
 */
export async function wake(trx: Transaction<Database> | Db, streams: string[]): Promise<void> {
  // In stream order (byte order, as `COLLATE "C"` sorts), the order in which wakeWaiting locks rows
  // too: a statement changing several rows locks them one by one, so two taking them in different
  // orders could each wait for the other (a deadlock, which PostgreSQL breaks by failing one).
  const unique = [...new Set(streams)].sort()
  if (unique.length === 0) return
  await trx
    .insertInto('pm_tasks')
    .values(
      unique.map((stream) => {
        // The stream's category names the step that runs the task.
        const { category, id } = parseStreamName(stream)
        return { stream, kind: category, entity_id: id, due_at: sql<Date>`now()`, updated_at: sql<Date>`now()` }
      }),
    )
    .onConflict((oc) =>
      oc.column('stream').doUpdateSet({ version: sql<number>`pm_tasks.version + 1`, due_at: sql<Date>`now()`, done: false, attempts: 0, first_failed_at: null, updated_at: sql<Date>`now()` }),
    )
    .execute()
}

/** Tasks due now and not done: work the process manager has not caught up with (admission control's measure). */
export async function countDueTasks(db: Db): Promise<number> {
  const row = await sql<{ due: string }>`SELECT count(*) AS due FROM pm_tasks WHERE NOT done AND due_at <= now()`.execute(db)
  return Number(row.rows[0]?.due ?? 0)
}

/** The queue as the metrics report it: tasks due now, tasks scheduled later, and how long the oldest due one has waited. */
export async function queueStats(db: Db): Promise<{ due: number; scheduled: number; oldestDueSeconds: number }> {
  const row = await sql<{ due: string; scheduled: string; oldest: number | null }>`
    SELECT count(*) FILTER (WHERE due_at <= now()) AS due,
           count(*) FILTER (WHERE due_at > now()) AS scheduled,
           extract(epoch FROM now() - min(due_at) FILTER (WHERE due_at <= now()))::float8 AS oldest
    FROM pm_tasks WHERE NOT done
  `.execute(db)
  const r = row.rows[0]
  return { due: Number(r?.due ?? 0), scheduled: Number(r?.scheduled ?? 0), oldestDueSeconds: Math.max(0, r?.oldest ?? 0) }
}

/**
 * Claims up to `limit` due tasks for `claimSeconds`, each under a new token. A running task's claim is
 * renewed while its step runs (`holdClaim`, with `renewClaim`), so one that expired belongs to a runner that died and is retaken.
 */
export async function claimDue(db: Db, limit: number, claimSeconds: number): Promise<Task[]> {
  const rows = await sql<{ stream: string; kind: TaskKind; entity_id: string; version: number; attempts: number; first_failed_at: Date | null; claim_token: string; dead_letter_id: string | null }>`
    UPDATE pm_tasks SET locked_until = now() + make_interval(secs => ${claimSeconds}), claim_token = gen_random_uuid()
    WHERE stream IN (
      SELECT stream FROM pm_tasks
      WHERE NOT done AND due_at <= now() AND (locked_until IS NULL OR locked_until < now())
      ORDER BY due_at LIMIT ${limit}
      FOR UPDATE SKIP LOCKED
    )
    RETURNING stream, kind, entity_id, version, attempts, first_failed_at, claim_token, dead_letter_id`.execute(db)
  return rows.rows.map((r) => ({
    stream: r.stream,
    kind: r.kind,
    entityId: r.entity_id,
    version: r.version,
    attempts: r.attempts,
    firstFailedAt: r.first_failed_at ?? undefined,
    claimToken: r.claim_token,
    deadLetterId: r.dead_letter_id ?? undefined,
  }))
}

/** Extends a claim for another `claimSeconds`; false when it is no longer held (settled, or expired and retaken). */
export async function renewClaim(db: Db, task: Task, claimSeconds: number): Promise<boolean> {
  const res = await sql`
    UPDATE pm_tasks SET locked_until = now() + make_interval(secs => ${claimSeconds})
    WHERE stream = ${task.stream} AND claim_token = ${task.claimToken}`.execute(db)
  return wroteAny(res)
}

export type Outcome =
  | { next: 'done' }
  | { next: 'poll'; inMs: number }
  | { next: 'retry'; inMs: number; error: string }
  /** Set aside after too many failures: done until an admin replays it. */
  | { next: 'dead'; deadLetterId: string; error: string; opened: boolean }

/**
 * Records how a claimed task went, if its claim is still held (false, and nothing written, when not:
 * another runner has the task now and its outcome is the newer one). A newer event since the claim
 * keeps the task due now.
 *
 * An admin may already have replayed or discarded the dead letter this run ends in (it is listed as
 * soon as it is opened, before the task settles): the task is then not parked behind it. It stays as
 * the action left it, and is done only if nothing happened since the claim: a replay bumped the
 * version (due, fresh budget), and so did any event since (due, so the event is acted on).
 */
export async function settle(db: Db, task: Task, outcome: Outcome): Promise<boolean> {
  const failed = outcome.next === 'retry' || outcome.next === 'dead'
  const done = outcome.next === 'done' || outcome.next === 'dead'
  const inMs = outcome.next === 'poll' || outcome.next === 'retry' ? outcome.inMs : 0
  const deadLetterId = outcome.next === 'dead' ? outcome.deadLetterId : null
  // NULL, never true, for any outcome but a dead letter.
  const actedOn = sql<boolean>`resolved_dead_letter_id = ${deadLetterId}`
  const res = await sql`
    UPDATE pm_tasks SET
      done = CASE WHEN ${actedOn} THEN version = ${task.version} WHEN version = ${task.version} THEN ${done} ELSE false END,
      due_at = CASE WHEN ${actedOn} THEN due_at WHEN version = ${task.version} THEN now() + make_interval(secs => ${inMs / 1000}) ELSE now() END,
      attempts = CASE WHEN ${actedOn} THEN attempts WHEN ${failed} THEN attempts + 1 ELSE 0 END,
      first_failed_at = CASE WHEN ${actedOn} THEN first_failed_at WHEN ${failed} THEN coalesce(first_failed_at, now()) END,
      last_error = CASE WHEN ${actedOn} THEN last_error ELSE ${failed ? outcome.error.slice(0, 1000) : null} END,
      dead_letter_id = CASE WHEN ${actedOn} OR ${deadLetterId}::uuid IS NULL THEN dead_letter_id ELSE ${deadLetterId}::uuid END,
      locked_until = NULL,
      claim_token = NULL,
      updated_at = now()
    WHERE stream = ${task.stream} AND claim_token = ${task.claimToken}`.execute(db)
  return wroteAny(res)
}

/**
 * A replayed dead letter: the task is due now with a fresh retry budget. A claim still held is left
 * alone: released, it could hand the task to a second runner while the first still runs it; the
 * version bump keeps the first one's settle from marking the task done, and the resolved id keeps it
 * from parking the task behind the dead letter just replayed.
 */
export async function requeue(db: Db, stream: string, deadLetterId: string): Promise<boolean> {
  const res = await sql`
    UPDATE pm_tasks SET done = false, due_at = now(), attempts = 0, first_failed_at = NULL, last_error = NULL,
      dead_letter_id = ${notBehind(deadLetterId)}, resolved_dead_letter_id = ${deadLetterId}, version = version + 1, updated_at = now()
    WHERE stream = ${stream}`.execute(db)
  return wroteAny(res)
}

/**
 * A discarded dead letter: the task no longer waits behind it. A parked task stays done, and the
 * operation's next event wakes it (failing then opens a new dead letter). A run still settling the
 * failure that ends in this dead letter finds the discard in `settle` and stops there.
 */
export async function release(db: Db, stream: string, deadLetterId: string): Promise<boolean> {
  const res = await sql`
    UPDATE pm_tasks SET dead_letter_id = ${notBehind(deadLetterId)}, resolved_dead_letter_id = ${deadLetterId}, updated_at = now()
    WHERE stream = ${stream}`.execute(db)
  return wroteAny(res)
}

/** The task's dead letter once `deadLetterId` is closed: none if it was that one, else the other one, still open. */
const notBehind = (deadLetterId: string) => sql`CASE WHEN dead_letter_id = ${deadLetterId} THEN NULL ELSE dead_letter_id END`

/**
 * What the operation's own task still owes the outside (a card's freeze to the issuer): `pushing`
 * while it runs or is due; `parked` while its last run failed behind an open dead letter, so the
 * change has not reached the outside; undefined when it owes nothing (or there is no task).
 */
export async function pendingChange(db: Db, stream: string): Promise<{ state: 'pushing' } | { state: 'parked'; deadLetterId: string } | undefined> {
  const task = await db.selectFrom('pm_tasks').select(['done', 'dead_letter_id', 'last_error']).where('stream', '=', stream).executeTakeFirst()
  if (!task) return undefined
  if (!task.done) return { state: 'pushing' }
  // A success clears the last error; a dead letter kept through it no longer means the change is owed.
  return task.dead_letter_id !== null && task.last_error !== null ? { state: 'parked', deadLetterId: task.dead_letter_id } : undefined
}

/** Tasks of a kind waiting for their next look (e.g. polling) take it now; how many were woken. */
export async function wakeWaiting(db: Db, kind: TaskKind): Promise<number> {
  // Locks the rows in stream order, as wake does (see there).
  const res = await sql`
    UPDATE pm_tasks SET due_at = now()
    WHERE stream IN (SELECT stream FROM pm_tasks WHERE kind = ${kind} AND NOT done AND due_at > now() ORDER BY stream COLLATE "C" FOR UPDATE)
      AND NOT done AND due_at > now()`.execute(db)
  return Number(res.numAffectedRows ?? 0)
}
