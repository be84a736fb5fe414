import type { Kysely } from 'kysely'
import { JsonText } from '../adapters/postgres/copy.ts'
import { insertRowChunks, type JsonRow } from '../adapters/postgres/insert-rows.ts'
import type { Database } from '../database.ts'
import type { JsonObject, JsonValue, RecordedEvent } from '../events/event-store.ts'
import { allEventTypes, type DomainEvent } from '../events/types.ts'
import type { Projection } from '../subscriptions/projection.ts'
import type { AuditLogTable } from './audit.table.ts'
import { canonicalEvent, canonicalJson, chainHash, GENESIS_HASH } from './canonical.ts'
import { positionKey } from './position-key.ts'

/**
 * The audit log: every event of the store, in position order, with who caused it and a hash chain
 * over the canonical form of each event (hash = sha256(prev_hash || canonical event)).
 */
export const auditLog: Projection<DomainEvent> = {
  name: 'audit-log',
  version: 1,
  handles: allEventTypes,
  tables: ['audit_log'],
  async handle(trx, events) {
    const last = await trx.selectFrom('audit_log').select('hash').orderBy('position_key', 'desc').limit(1).executeTakeFirst()
    let prev = last?.hash ?? GENESIS_HASH
    const recorded = events as unknown as RecordedEvent[]
    // Hashing is most of a rebuild's Node time: chunk by chunk, it overlaps the previous chunk's insert.
    function* chunks() {
      for (let i = 0; i < recorded.length; i += CHUNK) {
        const rows: JsonRow<AuditLogTable>[] = []
        for (const event of recorded.slice(i, i + CHUNK)) {
          // The canonical data and metadata are also the JSON the row stores: serialized once.
          const data = canonicalJson(event.data)
          const metadata = canonicalJson(event.metadata as unknown as JsonValue)
          const hash = chainHash(prev, canonicalEvent(event, data, metadata))
          rows.push(auditRow(event, prev, hash, data, metadata))
          prev = hash
        }
        yield rows
      }
    }
    await insertRowChunks(trx, 'audit_log', chunks())
  },
}

/** Events hashed per insert statement. */
const CHUNK = 500

function auditRow(e: RecordedEvent, prevHash: string, hash: string, data: string, metadata: string): JsonRow<AuditLogTable> {
  const m = e.metadata
  return {
    position_key: positionKey(e.position),
    position: e.position,
    stream: e.stream,
    revision: e.revision,
    event_id: e.id,
    type: e.type,
    data: new JsonText(data),
    metadata: new JsonText(metadata),
    actor: m.actor,
    request_id: m.requestId ?? null,
    idempotency_key: m.idempotencyKey ?? null,
    correlation_id: m.correlationId,
    causation_id: m.causationId,
    recorded_at: e.recordedAt,
    prev_hash: prevHash,
    hash,
  }
}

export interface AuditHead {
  /** Position of the last event in the chain. */
  position: string
  hash: string
  recordedAt: string
}

/**
 * The chain head: the last audited event's position and hash. Publishing it outside the database
 * makes a rewrite of the whole table (chain recomputed end to end) detectable.
 */
export async function auditHead(db: Kysely<Database>): Promise<AuditHead | undefined> {
  const row = await db.selectFrom('audit_log').select(['position', 'hash', 'recorded_at']).orderBy('position_key', 'desc').limit(1).executeTakeFirst()
  return row && { position: row.position, hash: row.hash, recordedAt: row.recorded_at.toISOString() }
}

export interface AuditRecord {
  position: string
  hash: string
  prevHash: string
}

/** The chain links of the given positions (for answers that serve events from the store with their hashes). */
export async function chainLinks(db: Kysely<Database>, positions: string[]): Promise<Map<string, AuditRecord>> {
  if (positions.length === 0) return new Map()
  const rows = await db
    .selectFrom('audit_log')
    .select(['position', 'hash', 'prev_hash'])
    .where('position_key', 'in', positions.map(positionKey))
    .execute()
  return new Map(rows.map((r) => [r.position, { position: r.position, hash: r.hash, prevHash: r.prev_hash }]))
}

/** An audit row as the event it recorded (the fields the chain covers). */
export function auditedEvent(row: { position: string; stream: string; revision: number; event_id: string; type: string; data: JsonObject; metadata: RecordedEvent['metadata']; recorded_at: Date }) {
  return {
    position: row.position,
    stream: row.stream,
    revision: row.revision,
    id: row.event_id,
    type: row.type,
    data: row.data,
    metadata: row.metadata,
    recordedAt: row.recorded_at.toISOString(),
  }
}
