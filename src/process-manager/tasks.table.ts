import type { ColumnType } from 'kysely'

/** The process manager's work queue: one row per operation stream that may need a Circle call. */
export interface PmTasksTable {
  stream: string
  kind: string
  entity_id: string
  /** Bumped by every event, so a worker that read an older version does not mark newer work done. */
  version: ColumnType<number, number | undefined, number>
  due_at: ColumnType<Date, Date | undefined, Date>
  locked_until: Date | null
  /** The current claim's token: only its holder may renew the claim or settle the task. */
  claim_token: ColumnType<string | null, string | null | undefined, string | null>
  attempts: ColumnType<number, number | undefined, number>
  last_error: string | null
  done: ColumnType<boolean, boolean | undefined, boolean>
  /** When the current run of failures began; with `attempts` it bounds the retries. */
  first_failed_at: Date | null
  /** Set when the task was set aside as a dead letter (it is then done until replayed). */
  dead_letter_id: string | null
  created_at: ColumnType<Date, Date | undefined, never>
  updated_at: ColumnType<Date, Date | undefined, Date>
}
