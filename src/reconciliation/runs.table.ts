import type { ColumnType } from 'kysely'
import type { TreasurySnapshot } from './treasury.ts'

/** One reconciliation run: when, why, what it looked at, and what it found (counts by kind). */
export interface ReconciliationRunsTable {
  id: string
  /** What started it: schedule, cli or http. */
  trigger: string
  /** running, completed or failed (the run itself could not finish). */
  status: string
  /** clean, mismatches or failed; null while running. */
  outcome: string | null
  created_at: ColumnType<Date, Date | string | undefined, Date | string>
  finished_at: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>
  /** Circle's lists were read for resources created from here... */
  listed_from: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>
  /** ...up to here; the next run starts from it. */
  high_water_mark: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>
  checked: ColumnType<Record<string, number>, string | undefined, string>
  counts: ColumnType<Record<string, number>, string | undefined, string>
  error: string | null
  /** See TreasurySnapshot in treasury.ts; null when the run did not get that far. */
  treasury: ColumnType<TreasurySnapshot | null, string | null | undefined, string | null>
}

