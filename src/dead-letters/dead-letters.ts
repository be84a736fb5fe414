import { randomUUID } from 'node:crypto'
import { sql, type Selectable } from 'kysely'
import type { Db } from '../adapters/postgres/database.ts'
import { DomainError } from '../commands/errors.ts'
import { deriveId } from '../commands/ids.ts'
import { discardDeadLetter } from '../commands/discard-dead-letter.ts'
import { execute } from '../commands/handler.ts'
import { recordDeadLetter, type RecordDeadLetter } from '../commands/record-dead-letter.ts'
import { reflagOperation } from '../commands/reflag-operation.ts'
import { replayDeadLetter } from '../commands/replay-dead-letter.ts'
import { deadLetter } from '../events/dead-letter.ts'
import type { EventStore } from '../events/event-store.ts'
import { fold } from '../events/fold.ts'
import { release, requeue } from '../process-manager/tasks.ts'
import { pageQuery, type Page, type PageRequest } from '../projections/pagination.ts'
import type { DeadLettersTable } from './dead-letters.table.ts'

export type DeadLetterRow = Selectable<DeadLettersTable>

/**
 * The one dead-letter store for webhook notifications and process-manager tasks. Each change is an
 * event on `deadletter-{id}` first (the audit record, with its actor), then this table (what admins
 * list); a requeue after the event is idempotent, so a crash between them is repaired by acting again.
 *
 * Opening one sets a failing task or notification aside. `round` names the run of failures it ends:
 * the same while that run is retried, changed once an admin has replayed the dead letter (a task's
 * version, a notification's replay count). The id derives from it, so opening the dead letter again
 * after a failure part-way (its event committed, then the row, the task's settle or the inbox's
 * update failed) finds the one already recorded: no second event, no second attention flag, one row.
 */
export async function openDeadLetter(store: EventStore, db: Db, entry: Omit<RecordDeadLetter, 'deadLetterId'>, actor: string, round: number): Promise<string> {
  const deadLetterId = deadLetterIdOf(entry.kind, entry.subject, round)
  await execute(store, recordDeadLetter, { deadLetterId, ...entry }, { commandId: deriveId('dead-letter', deadLetterId), actor, occurredAt: new Date().toISOString() })
  await db
    .insertInto('dead_letters')
    .values({ id: deadLetterId, kind: entry.kind, subject: entry.subject, detail: entry.detail, attention: entry.attention ?? null, error: entry.error.slice(0, 1000), attempts: entry.attempts, resolved_by: null, reason: null, resolved_at: null })
    .onConflict((oc) => oc.column('id').doNothing())
    .execute()
  return deadLetterId
}

/**
 * A task failing again behind its open dead letter (woken by an event, it ran another round): the
 * row shows the newest error and attempts, and if what is stuck changed (a redeem's payout read, now
 * its compensation), the operation is flagged again under the same dead letter. False, and nothing
 * written, once the dead letter is no longer open.
 */
export async function refreshDeadLetter(
  store: EventStore,
  db: Db,
  entry: { deadLetterId: string; subject: string; error: string; attempts: number; attention: string },
  actor: string,
  round: number,
): Promise<boolean> {
  const row = await getDeadLetter(db, entry.deadLetterId)
  if (row?.status !== 'open') return false
  if (row.attention !== entry.attention) {
    const commandId = deriveId('dead-letter-reflag', entry.deadLetterId, entry.attention, String(round))
    await execute(store, reflagOperation, { deadLetterId: entry.deadLetterId, subject: entry.subject, attention: entry.attention, error: entry.error }, { commandId, actor, occurredAt: new Date().toISOString() })
  }
  const res = await db
    .updateTable('dead_letters')
    .set({ error: entry.error.slice(0, 1000), attempts: entry.attempts, attention: entry.attention })
    .where('id', '=', entry.deadLetterId)
    .where('status', '=', 'open')
    .executeTakeFirst()
  return Number(res.numUpdatedRows) > 0
}

/** The id of the dead letter ending `round` of `subject`'s failures: the same for every attempt to open it. */
export const deadLetterIdOf = (kind: 'webhook' | 'task', subject: string, round: number): string => deriveId('dead-letter', kind, subject, String(round))

export async function getDeadLetter(db: Db, id: string): Promise<DeadLetterRow | undefined> {
  return db.selectFrom('dead_letters').selectAll().where('id', '=', id).executeTakeFirst()
}

export async function listDeadLetters(
  db: Db,
  filter: { kind?: 'webhook' | 'task' | undefined; status?: 'open' | 'replayed' | 'discarded' | undefined },
  page: PageRequest,
): Promise<Page<DeadLetterRow>> {
  let query = db.selectFrom('dead_letters').selectAll()
  if (filter.kind !== undefined) query = query.where('kind', '=', filter.kind)
  if (filter.status !== undefined) query = query.where('status', '=', filter.status)
  return pageQuery(query, page, (row) => row, { type: 'uuid' })
}

/** Puts the dead letter's work back in its queue with a fresh retry budget. */
export async function replay(store: EventStore, db: Db, id: string, actor: string, requestId?: string): Promise<DeadLetterRow> {
  const meta = { commandId: randomUUID(), actor, occurredAt: new Date().toISOString(), ...(requestId === undefined ? {} : { requestId }) }
  await executeOrResume(store, db, id, 'replayed', () => execute(store, replayDeadLetter, { deadLetterId: id }, meta))
  const row = await getDeadLetter(db, id)
  if (!row) throw new Error(`dead letter ${id} is gone after its replay was recorded`)
  if (row.kind === 'webhook') {
    await db
      .updateTable('webhook_inbox')
      // A new round: should it fail again, its dead letter is a new one. A claim still held (a worker
      // that retook the notification after the one that buried it died) is left to its holder.
      .set({ status: 'pending', attempts: 0, next_attempt_at: sql<Date>`now()` as never, last_error: null, dead_letter_id: null, replays: sql<number>`replays + 1` })
      .where('id', '=', row.subject)
      .execute()
  } else {
    await requeue(db, row.subject, id)
  }
  return resolve(db, id, 'replayed', actor, null)
}

/** Closes the dead letter without running its work again; the reason is kept in the event and the row. */
export async function discard(store: EventStore, db: Db, id: string, reason: string, actor: string, requestId?: string): Promise<DeadLetterRow> {
  const meta = { commandId: randomUUID(), actor, occurredAt: new Date().toISOString(), ...(requestId === undefined ? {} : { requestId }) }
  await executeOrResume(store, db, id, 'discarded', () => execute(store, discardDeadLetter, { deadLetterId: id, reason }, meta))
  const row = await getDeadLetter(db, id)
  if (!row) throw new Error(`dead letter ${id} is gone after its discard was recorded`)
  // Its task no longer waits behind it and does not run its failed step again; the next event wakes it.
  if (row.kind === 'task') await release(db, row.subject, id)
  return resolve(db, id, 'discarded', actor, reason)
}

/**
 * Runs the admin command. If its event is already written but the row still says open (the
 * process stopped in between), the action resumes instead of failing: requeueing and releasing are idempotent.
 */
async function executeOrResume(store: EventStore, db: Db, id: string, action: 'replayed' | 'discarded', run: () => Promise<unknown>): Promise<void> {
  try {
    await run()
  } catch (err) {
    if (!(err instanceof DomainError && err.code === 'dead_letter_not_open')) throw err
    const row = await getDeadLetter(db, id)
    const { state } = await fold(store, deadLetter, id)
    if (row?.status === 'open' && state.status === action) return
    throw err
  }
}

async function resolve(db: Db, id: string, status: 'replayed' | 'discarded', actor: string, reason: string | null): Promise<DeadLetterRow> {
  return db
    .updateTable('dead_letters')
    .set({ status, resolved_by: actor, reason, resolved_at: new Date() })
    .where('id', '=', id)
    .returningAll()
    .executeTakeFirstOrThrow()
}

/** Open dead letters by kind and detail, for /metrics. */
export async function openCounts(db: Db): Promise<{ kind: string; detail: string; count: number }[]> {
  const rows = await db
    .selectFrom('dead_letters')
    .select(['kind', 'detail', sql<string>`count(*)`.as('count')])
    .where('status', '=', 'open')
    .groupBy(['kind', 'detail'])
    .execute()
  return rows.map((r) => ({ kind: r.kind, detail: r.detail, count: Number(r.count) }))
}
