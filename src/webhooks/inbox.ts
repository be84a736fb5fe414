import { sql } from 'kysely'
import { wroteAny, type Db } from '../adapters/postgres/database.ts'
import type { Notification } from './verify.ts'

/**
 * Stores a verified notification once; a redelivery (same id) is reported as a duplicate and stores
 * nothing. One that cannot change anything is stored as processed: kept for deduplication and the
 * record, never handed to the worker.
 */
export async function store(db: Db, n: Notification, options: { processed?: boolean } = {}): Promise<'stored' | 'duplicate'> {
  const processed = options.processed === true
  const row = await db
    .insertInto('webhook_inbox')
    .values({
      id: n.id,
      scheme: n.scheme,
      notification_type: n.type,
      resource: JSON.stringify(n.resource),
      status: processed ? 'processed' : 'pending',
      locked_until: null,
      last_error: null,
      dead_letter_id: null,
      processed_at: processed ? new Date() : null,
    })
    .onConflict((oc) => oc.column('id').doNothing())
    .returning('id')
    .executeTakeFirst()
  return row ? 'stored' : 'duplicate'
}

export interface InboxItem {
  id: string
  scheme: 'v2' | 'sns'
  type: string
  resource: Record<string, unknown>
  attempts: number
  /** Replays of its dead letters so far: the round a dead letter opened now would end. */
  replays: number
  /** This claim's token: the claim is held only while the row still carries it. */
  claimToken: string
}

/**
 * Claims up to `limit` due notifications for `claimSeconds`, each under a new token. A claim is
 * renewed while its notification is handled (`renewClaim`), so one that expired belongs to a worker
 * that died and is retaken.
 */
export async function claimDue(db: Db, limit: number, claimSeconds: number): Promise<InboxItem[]> {
  const rows = await sql<{ id: string; scheme: 'v2' | 'sns'; notification_type: string; resource: Record<string, unknown>; attempts: number; replays: number; claim_token: string }>`
    UPDATE webhook_inbox SET locked_until = now() + make_interval(secs => ${claimSeconds}), claim_token = gen_random_uuid()
    WHERE id IN (
      SELECT id FROM webhook_inbox
      WHERE status = 'pending' AND next_attempt_at <= now() AND (locked_until IS NULL OR locked_until < now())
      ORDER BY next_attempt_at LIMIT ${limit}
      FOR UPDATE SKIP LOCKED
    )
    RETURNING id, scheme, notification_type, resource, attempts, replays, claim_token`.execute(db)
  return rows.rows.map((r) => ({ id: r.id, scheme: r.scheme, type: r.notification_type, resource: r.resource, attempts: r.attempts, replays: r.replays, claimToken: r.claim_token }))
}

/** Extends a claim for another `claimSeconds`; false when it is no longer held (recorded, or expired and retaken). */
export async function renewClaim(db: Db, item: InboxItem, claimSeconds: number): Promise<boolean> {
  const res = await sql`
    UPDATE webhook_inbox SET locked_until = now() + make_interval(secs => ${claimSeconds})
    WHERE id = ${item.id} AND claim_token = ${item.claimToken}`.execute(db)
  return wroteAny(res)
}

// Each outcome below is recorded only by the claim's holder (false, and nothing written, when the
// claim was lost: the worker holding it now records the newer outcome). A failure is also recorded
// only in the round it belongs to: an admin's replay starts a new round (`replays` + 1) without
// taking the claim away, and a failure of the round before must not bury the replayed notification
// behind a dead letter that is already closed.

export async function markProcessed(db: Db, item: InboxItem): Promise<boolean> {
  const res = await sql`
    UPDATE webhook_inbox SET status = 'processed', processed_at = now(), locked_until = NULL, claim_token = NULL
    WHERE id = ${item.id} AND claim_token = ${item.claimToken}`.execute(db)
  return wroteAny(res)
}

export async function scheduleRetry(db: Db, item: InboxItem, inMs: number, error: string): Promise<boolean> {
  const res = await sql`
    UPDATE webhook_inbox SET attempts = attempts + 1, next_attempt_at = now() + make_interval(secs => ${inMs / 1000}),
      last_error = ${error.slice(0, 1000)}, locked_until = NULL, claim_token = NULL
    WHERE id = ${item.id} AND claim_token = ${item.claimToken} AND replays = ${item.replays}`.execute(db)
  return wroteAny(res)
}

export async function markDead(db: Db, item: InboxItem, deadLetterId: string, error: string): Promise<boolean> {
  const res = await sql`
    UPDATE webhook_inbox SET status = 'dead', attempts = attempts + 1, last_error = ${error.slice(0, 1000)}, dead_letter_id = ${deadLetterId},
      locked_until = NULL, claim_token = NULL
    WHERE id = ${item.id} AND claim_token = ${item.claimToken} AND replays = ${item.replays}`.execute(db)
  return wroteAny(res)
}

/** When a worker last processed a notification, if ever: one index entry (webhook_inbox_processed_at), however long the inbox. */
export const lastProcessedQuery = (db: Db) => db.selectFrom('webhook_inbox').select((eb) => eb.fn.max('processed_at').as('last'))

export async function lastProcessedAt(db: Db): Promise<Date | undefined> {
  const last = (await lastProcessedQuery(db).executeTakeFirst())?.last as Date | string | null | undefined
  return last ? new Date(last) : undefined
}
