import type { ColumnType } from 'kysely'

/** Subscriber checkpoints: one row per subscriber, moved with compare-and-set. */
export interface CheckpointsTable {
  name: string
  position: string | null
  updated_at: ColumnType<Date, Date | undefined, Date>
}

/** Every table the service reads or writes through Kysely; projections add their read models here. */
export interface Database {
  checkpoints: CheckpointsTable
}
