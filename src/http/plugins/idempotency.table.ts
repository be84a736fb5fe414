import type { ColumnType } from 'kysely'

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
  /** Which attempt holds the in-flight row; only that attempt may renew, store or drop it. */
  lock_token: ColumnType<string | null, string | null | undefined, string | null>
}
