import { sql } from 'kysely'
import type { Db } from '../adapters/postgres/database.ts'
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
}

/** Claims up to `limit` due notifications for `leaseSeconds`; a crashed worker's claims expire and are retaken. */
export async function claimDue(db: Db, limit: number, leaseSeconds: number): Promise<InboxItem[]> {
  const rows = await sql<{ id: string; scheme: 'v2' | 'sns'; notification_type: string; resource: Record<string, unknown>; attempts: number; replays: number }>`
    UPDATE webhook_inbox SET locked_until = now() + make_interval(secs => ${leaseSeconds})
    WHERE id IN (
      SELECT id FROM webhook_inbox
      WHERE status = 'pending' AND next_attempt_at <= now() AND (locked_until IS NULL OR locked_until < now())
      ORDER BY next_attempt_at LIMIT ${limit}
      FOR UPDATE SKIP LOCKED
    )
    RETURNING id, scheme, notification_type, resource, attempts, replays`.execute(db)
  return rows.rows.map((r) => ({ id: r.id, scheme: r.scheme, type: r.notification_type, resource: r.resource, attempts: r.attempts, replays: r.replays }))
}

export async function markProcessed(db: Db, id: string): Promise<void> {
  await db.updateTable('webhook_inbox').set({ status: 'processed', processed_at: new Date(), locked_until: null }).where('id', '=', id).execute()
}

export async function scheduleRetry(db: Db, id: string, inMs: number, error: string): Promise<void> {
  await sql`
    UPDATE webhook_inbox SET attempts = attempts + 1, next_attempt_at = now() + make_interval(secs => ${inMs / 1000}),
      last_error = ${error.slice(0, 1000)}, locked_until = NULL
    WHERE id = ${id}`.execute(db)
}

export async function markDead(db: Db, id: string, deadLetterId: string, error: string): Promise<void> {
  await sql`
    UPDATE webhook_inbox SET status = 'dead', attempts = attempts + 1, last_error = ${error.slice(0, 1000)}, dead_letter_id = ${deadLetterId}, locked_until = NULL
    WHERE id = ${id}`.execute(db)
}

/** Frees every claim; only safe for the instance holding the webhook-worker lease. */
export async function releaseClaims(db: Db): Promise<void> {
  await db.updateTable('webhook_inbox').set({ locked_until: null }).where('locked_until', 'is not', null).execute()
}
