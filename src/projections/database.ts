import type { ColumnType } from 'kysely'

/** Subscriber checkpoints: one row per subscriber, moved with compare-and-set. */
export interface CheckpointsTable {
  name: string
  position: string | null
  updated_at: ColumnType<Date, Date | undefined, Date>
}

/** Stored answers to creating POSTs, per API key and Idempotency-Key. */
export interface IdempotencyKeysTable {
  principal: string
  key: string
  request_hash: string
  state: 'in_flight' | 'done'
  response_status: number | null
  response_body: unknown
  response_headers: Record<string, string> | null
  created_at: ColumnType<Date, Date | undefined, never>
  locked_until: Date
  expires_at: Date
}

/** Every table the service reads or writes through Kysely; projections add their read models here. */
export interface Database {
  checkpoints: CheckpointsTable
  idempotency_keys: IdempotencyKeysTable
}
