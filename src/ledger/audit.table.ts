import type { ColumnType } from 'kysely'
import type { EventMetadata, JsonObject } from '../events/event-store.ts'

/** The hash-chained audit log: one row per event of the store, in position order. */
export interface AuditLogTable {
  /** Sortable form of the position (see position-key.ts); the chain's order. */
  position_key: string
  position: string
  stream: string
  revision: number
  event_id: string
  type: string
  data: ColumnType<JsonObject, string, string>
  metadata: ColumnType<EventMetadata, string, string>
  actor: string
  request_id: string | null
  idempotency_key: string | null
  correlation_id: string
  causation_id: string
  recorded_at: ColumnType<Date, Date | string, Date | string>
  /** Hex SHA-256 of the previous row (64 zeros before the first event). */
  prev_hash: string
  /** Hex SHA-256 of prev_hash followed by the event's canonical JSON. */
  hash: string
}
