import type { ColumnType } from 'kysely'
import type { CirclePollMarksTable, CircleWalletsTable } from '../process-manager/deposit-poller.ts'

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

/** The process manager's work queue: one row per operation stream that may need a Circle call. */
export interface PmTasksTable {
  stream: string
  kind: string
  entity_id: string
  /** Bumped by every event, so a worker that read an older version does not mark newer work done. */
  version: ColumnType<number, number | undefined, number>
  due_at: ColumnType<Date, Date | undefined, Date>
  locked_until: Date | null
  attempts: ColumnType<number, number | undefined, number>
  last_error: string | null
  done: ColumnType<boolean, boolean | undefined, boolean>
  created_at: ColumnType<Date, Date | undefined, never>
  updated_at: ColumnType<Date, Date | undefined, Date>
}

/** Every table the service reads or writes through Kysely; projections add their read models here. */
export interface Database {
  checkpoints: CheckpointsTable
  idempotency_keys: IdempotencyKeysTable
  pm_tasks: PmTasksTable
  circle_wallets: CircleWalletsTable
  circle_poll_marks: CirclePollMarksTable
}
