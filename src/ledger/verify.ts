import type { Kysely } from 'kysely'
import type { Database } from '../database.ts'
import type { EventStore, RecordedEvent } from '../events/event-store.ts'
import { readCheckpoint } from '../subscriptions/checkpoints.ts'
import { checkpointName } from '../subscriptions/projection.ts'
import { auditedEvent, auditLog } from './audit.ts'
import { canonicalEvent, chainHash, GENESIS_HASH, type ChainedEvent } from './canonical.ts'
import { positionKey } from './position-key.ts'

/**
 * What a break is:
 * - `data_changed`: the store's event and the audit row's record of it differ;
 * - `row_missing`: the store has an event the audit log has no row for;
 * - `event_missing`: the audit log has a row for an event the store does not have;
 * - `hash_mismatch`: the row's prev_hash or hash is not what the chain recomputes.
 */
export type BreakKind = 'data_changed' | 'row_missing' | 'event_missing' | 'hash_mismatch'

export interface ChainBreak {
  position: string
  kind: BreakKind
  message: string
  /** data_changed: the differing fields (`data.amount`, `metadata.actor`...); hash_mismatch: stored and recomputed hashes. */
  details: Record<string, unknown>
}

/** A verification: `ok`, or the first break. */
export type VerifyResult = {
  /** Events verified before the end or the first break. */
  verified: number
  /**
   * Events passed over because an earlier release of the audit log did not handle their type
   * (audit_log_gaps: the reconciliation runs' before they were audited); they are in no hash.
   */
  unaudited: number
  /** Last position verified (null when none). */
  position: string | null
  /** How far the audit log has been built: events after it are not audited yet and not checked. */
  auditedUpTo: string | null
} & ({ ok: true; break?: never } | { ok: false; break: ChainBreak })

export interface VerifyOptions {
  db: Kysely<Database>
  store: EventStore
  /** First position to check (inclusive); the chain is anchored on the audit row before it. */
  from?: string | undefined
  /** Last position to check (inclusive); default: the audit log's checkpoint. */
  to?: string | undefined
  pageSize?: number
  onProgress?: (verified: number, total: number | undefined) => void
  signal?: AbortSignal
}

type AuditRow = Awaited<ReturnType<typeof readRows>>[number]

/**
 * Recomputes the hash chain from the event store and compares it, row by row, with the audit log.
 * Memory stays flat: one page of events and of rows at a time.
 */
export async function verifyChain(options: VerifyOptions): Promise<VerifyResult> {
  const { db, store } = options
  const pageSize = options.pageSize ?? 1000
  const audited = (await readCheckpoint(db, checkpointName(auditLog))) ?? null
  let verified = 0
  let unaudited = 0
  let last: string | null = null
  const done = (brk?: ChainBreak): VerifyResult =>
    brk === undefined ? { ok: true, verified, unaudited, position: last, auditedUpTo: audited } : { ok: false, verified, unaudited, position: last, auditedUpTo: audited, break: brk }
  if (audited === null) return done()
  const gaps = new Map((await db.selectFrom('audit_log_gaps').select(['event_type', 'through_key']).execute()).map((g) => [g.event_type, g.through_key]))
  // The last position checked: `to` when it comes before the audit log's end.
  const until = options.to !== undefined && positionKey(options.to) < positionKey(audited) ? options.to : audited
  const upper = positionKey(until)

  let prevHash = GENESIS_HASH
  let after: string | undefined
  let afterKey = ''
  if (options.from !== undefined) {
    const anchor = await db
      .selectFrom('audit_log')
      .select(['position', 'position_key', 'hash'])
      .where('position_key', '<', positionKey(options.from))
      .orderBy('position_key', 'desc')
      .limit(1)
      .executeTakeFirst()
    if (anchor) {
      prevHash = anchor.hash
      after = anchor.position
      afterKey = anchor.position_key
    }
  }
  const total = store.distance(after, until)

  for (;;) {
    if (options.signal?.aborted) throw options.signal.reason ?? new Error('verify aborted')
    const page = await store.readAll({ after, maxCount: pageSize })
    const events = page.events.filter((e) => positionKey(e.position) <= upper)
    const lastEvent = events.at(-1)
    const endKey = lastEvent !== undefined && events.length === page.events.length ? positionKey(lastEvent.position) : upper
    const rows = await readRows(db, afterKey, endKey)
    let r = 0
    for (const event of events) {
      const key = positionKey(event.position)
      // A row before this event that matched none of the store's events.
      const orphan = rows[r]
      if (orphan && orphan.position_key < key) return done(eventMissing(orphan))
      const row = orphan?.position_key === key ? orphan : undefined
      const gapThrough = gaps.get(event.type)
      if (!row && gapThrough !== undefined && key <= gapThrough) {
        // Never audited (see audit_log_gaps): in no hash, so the chain goes on from the row before.
        unaudited++
        last = event.position
        continue
      }
      if (!row) {
        return done({
          position: event.position,
          kind: 'row_missing',
          message: `the audit log has no row for the event at position ${event.position} (${event.stream}@${event.revision}, ${event.type})`,
          details: { stream: event.stream, revision: event.revision, type: event.type },
        })
      }
      r++
      const brk = compare(event, row, prevHash)
      if (brk) return done(brk)
      prevHash = row.hash
      verified++
      last = event.position
    }
    const unmatched = rows[r]
    if (unmatched) return done(eventMissing(unmatched))
    options.onProgress?.(verified, total)
    if (lastEvent === undefined || events.length < page.events.length || endKey >= upper) return done()
    after = lastEvent.position
    afterKey = endKey
  }
}

function readRows(db: Kysely<Database>, afterKey: string, endKey: string) {
  return db
    .selectFrom('audit_log')
    .select(['position_key', 'position', 'stream', 'revision', 'event_id', 'type', 'data', 'metadata', 'recorded_at', 'prev_hash', 'hash'])
    .where('position_key', '>', afterKey)
    .where('position_key', '<=', endKey)
    .orderBy('position_key')
    .execute()
}

function eventMissing(row: AuditRow): ChainBreak {
  return {
    position: row.position,
    kind: 'event_missing',
    message: `the audit log has a row at position ${row.position} (${row.stream}@${row.revision}) but the event store has no such event`,
    details: { stream: row.stream, revision: row.revision, type: row.type },
  }
}

function compare(event: RecordedEvent, row: AuditRow, prevHash: string): ChainBreak | undefined {
  const recorded = auditedEvent(row)
  const fromStore = canonicalEvent(event)
  if (canonicalEvent(recorded) !== fromStore) {
    const fields = differences(event, recorded)
    return {
      position: event.position,
      kind: 'data_changed',
      message: `the event at position ${event.position} differs from what the audit log recorded: ${fields.join(', ')}`,
      details: { fields },
    }
  }
  if (row.prev_hash !== prevHash) {
    return {
      position: event.position,
      kind: 'hash_mismatch',
      message: `the audit row at position ${event.position} does not link to the previous row: prev_hash ${row.prev_hash}, expected ${prevHash}`,
      details: { field: 'prev_hash', stored: row.prev_hash, expected: prevHash },
    }
  }
  const expected = chainHash(prevHash, fromStore)
  if (row.hash !== expected) {
    return {
      position: event.position,
      kind: 'hash_mismatch',
      message: `the audit row at position ${event.position} has hash ${row.hash}, recomputed ${expected}`,
      details: { field: 'hash', stored: row.hash, expected },
    }
  }
  return undefined
}

/** Paths of the members that differ, one level into data and metadata. */
function differences(a: ChainedEvent, b: ChainedEvent): string[] {
  const out: string[] = []
  for (const field of ['position', 'stream', 'revision', 'id', 'type', 'recordedAt'] as const) {
    if (String(a[field]) !== String(b[field])) out.push(field)
  }
  for (const field of ['data', 'metadata'] as const) {
    const x = a[field] as Record<string, unknown>
    const y = b[field] as Record<string, unknown>
    const keys = new Set([...Object.keys(x), ...Object.keys(y)])
    for (const k of [...keys].sort()) if (JSON.stringify(x[k]) !== JSON.stringify(y[k])) out.push(`${field}.${k}`)
  }
  return out.length > 0 ? out : ['(canonical form)']
}

/** "verified N events up to position P" or the first break. */
export function verificationMessage(r: { verified: number; unaudited: number; position: string | null } & ({ ok: true } | { ok: false; break: { message: string } })): string {
  const passed = r.unaudited > 0 ? `; ${r.unaudited} reconciliation events from before the audit log covered them passed over` : ''
  return r.ok ? `verified ${r.verified} events up to position ${r.position ?? '-'}${passed}` : `chain broken: ${r.break.message} (${r.verified} events verified before it${passed})`
}
