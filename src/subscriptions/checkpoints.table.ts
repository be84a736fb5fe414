import type { ColumnType } from 'kysely'

/** Subscriber checkpoints: one row per subscriber (per projection and version), moved with compare-and-set. */
export interface CheckpointsTable {
  name: string
  position: string | null
  updated_at: ColumnType<Date, Date | undefined, Date>
}
