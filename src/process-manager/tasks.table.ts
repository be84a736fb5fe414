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
  /**
   * The task's open dead letter, from the run of failures that opened it until an admin replays or
   * discards it. The task is parked (done) behind it; an event wakes it, and failing again parks it
   * behind the same one instead of opening another.
   */
  dead_letter_id: string | null
  /** The dead letter an admin last replayed or discarded: a settle that opened it keeps the admin's action. */
  resolved_dead_letter_id: ColumnType<string | null, string | null | undefined, string | null>
  created_at: ColumnType<Date, Date | undefined, never>
  updated_at: ColumnType<Date, Date | undefined, Date>
}
