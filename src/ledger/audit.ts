import { sql, type Kysely } from 'kysely'
import { insertRows, writeChunks, type JsonRow } from '../adapters/postgres/insert-rows.ts'
import type { Database } from '../database.ts'
import type { JsonObject, RecordedEvent } from '../events/event-store.ts'
import { allEventTypes, type DomainEvent } from '../events/types.ts'
import type { Projection } from '../subscriptions/projection.ts'
import type { AuditLogTable } from './audit.table.ts'
import { canonicalEvent, chainHash, GENESIS_HASH } from './canonical.ts'
import { positionKey } from './position-key.ts'

/**
 * The audit log: every event of the store, in position order, with who caused it and a hash chain
 * over the canonical form of each event (hash = sha256(prev_hash || canonical event)).
 */
export const auditLog: Projection<DomainEvent> = {
  name: 'audit-log',
  // Still 1 after the reconciliation runs' events were added to its types: the rows before then
  // stand, their holes recorded in audit_log_gaps (a rebuild would rewrite every published head).
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
        const chunk: Chunk = { events: recorded.slice(i, i + CHUNK), prev, hashes: [] }
        for (const event of chunk.events) chunk.hashes.push((prev = chainHash(prev, canonicalEvent(event))))
        yield chunk
      }
    }
    // With the PostgreSQL store, the events are in this database: the rows take their columns from
    // there. Otherwise (KurrentDB, or the memory store beside a PostgreSQL read side) from the events given.
    let fromEventsTable = recorded.every((e) => DECIMAL.test(e.position) && UUID.test(e.id))
    let copiedFromEvents = false
    await writeChunks(chunks(), async (chunk) => {
      if (fromEventsTable) {
        const inserted = await insertFromEventsTable(trx, chunk)
        if (inserted === chunk.events.length) {
          copiedFromEvents = true
          return
        }
        // None of the batch's events there: they come from another store. Some of them: never expected, and the batch fails.
        if (inserted !== 0 || copiedFromEvents) throw new Error(`audit log: ${inserted} of ${chunk.events.length} events at positions ${chunk.events[0]!.position}..${chunk.events.at(-1)!.position} found in the events table`)
        fromEventsTable = false
      }
      const prevHashes = prevHashesOf(chunk)
      await insertRows(trx, 'audit_log', chunk.events.map((e, i) => auditRow(e, prevHashes[i]!, chunk.hashes[i]!)))
    })
  },
}

/** Events hashed per insert statement. */
const CHUNK = 1000

/** The PostgreSQL store's positions and event ids (its columns are bigint and uuid). */
const DECIMAL = /^[0-9]{1,18}$/
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

/** Events of one insert statement, with their links of the chain: the hash before the first, and each one's hash. */
interface Chunk {
  events: RecordedEvent[]
  prev: string
  hashes: string[]
}

/** Each event's prev_hash: the chunk's `prev`, then the hash of the event before. */
const prevHashesOf = (chunk: Chunk) => [chunk.prev, ...chunk.hashes.slice(0, -1)]

/**
 * Inserts the chunk's audit rows with their columns read from the events table (matched by position
 * and event id), so the event data goes from table to table without being serialized, sent and
 * parsed again. Returns how many rows it inserted: those of the chunk's events found there.
 */
async function insertFromEventsTable(trx: Kysely<Database>, chunk: Chunk): Promise<number> {
  let inserted = 0
  for (const [start, end] of consecutiveRuns(chunk.events)) inserted += await insertRun(trx, chunk, start, end)
  return inserted
}

/**
 * The audit rows of chunk.events[start, end), whose positions follow one another: one range of the
 * events table's primary key, each row's place in the run its position's distance from the first.
 * Only the two ends, the links of the chain and the event ids are sent, the last two as bytes: the
 * hash before the run, then each event's, so a row's prev_hash is the 32 bytes at its place and its
 * hash the 32 after. Cutting them out of one bytea costs PostgreSQL about a third of what parsing
 * and unnesting five comma-separated lists and joining them to the table did (over 200,000 events,
 * the SELECT alone 0.38–0.41 s of its CPU against 0.90–1.20 s; with the inserts, 2.0–2.2 s against
 * 2.9–3.1 s).
 */
async function insertRun(trx: Kysely<Database>, chunk: Chunk, start: number, end: number): Promise<number> {
  const links = Buffer.allocUnsafe((end - start + 1) * 32)
  const ids = Buffer.allocUnsafe((end - start) * 16)
  links.write(start === 0 ? chunk.prev : chunk.hashes[start - 1]!, 0, 'hex')
  for (let i = start; i < end; i++) {
    links.write(chunk.hashes[i]!, (i - start + 1) * 32, 'hex')
    ids.write(chunk.events[i]!.id.replaceAll('-', ''), (i - start) * 16, 'hex')
  }
  const result = await sql`
    INSERT INTO audit_log (position_key, position, stream, revision, event_id, type, data, metadata, actor, request_id,
                           idempotency_key, correlation_id, causation_id, recorded_at, prev_hash, hash)
    SELECT lpad(e.position::text, 20, '0'), e.position::text, e.stream, e.revision, e.event_id, e.type, e.data, e.metadata,
           e.metadata->>'actor', e.metadata->>'requestId', e.metadata->>'idempotencyKey', e.metadata->>'correlationId',
           e.metadata->>'causationId', e.recorded_at,
           encode(substring(run.links FROM (e.position - run.first)::int * 32 + 1 FOR 32), 'hex'),
           encode(substring(run.links FROM (e.position - run.first)::int * 32 + 33 FOR 32), 'hex')
    FROM (SELECT ${chunk.events[start]!.position}::bigint AS first, ${chunk.events[end - 1]!.position}::bigint AS last,
                 ${links}::bytea AS links, ${ids}::bytea AS ids) run
    JOIN events e ON e.position BETWEEN run.first AND run.last
     AND uuid_send(e.event_id) = substring(run.ids FROM (e.position - run.first)::int * 16 + 1 FOR 16)`.execute(trx)
  return Number(result.numAffectedRows ?? 0n)
}

/** [start, end) of each run of events whose positions follow one another (all of a batch, when nothing in it was filtered out). */
function* consecutiveRuns(events: RecordedEvent[]): Generator<[number, number]> {
  let start = 0
  let previous = BigInt(events[0]!.position)
  for (let i = 1; i < events.length; i++) {
    const position = BigInt(events[i]!.position)
    if (position !== previous + 1n) {
      yield [start, i]
      start = i
    }
    previous = position
  }
  yield [start, events.length]
}

function auditRow(e: RecordedEvent, prevHash: string, hash: string): JsonRow<AuditLogTable> {
  const m = e.metadata
  return {
    position_key: positionKey(e.position),
    position: e.position,
    stream: e.stream,
    revision: e.revision,
    event_id: e.id,
    type: e.type,
    data: e.data,
    metadata: m,
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
