import type { ColumnType } from 'kysely'

/** One difference a run found between the ledger and Circle (or the card issuer). */
export interface ReconciliationFindingsTable {
  id: string
  run_id: string
  /** See FindingKind in findings.ts. */
  kind: string
  /** What it is about: a wallet id, an operation stream, or a Circle id. */
  subject: string
  /** Circle's id of the resource, when there is one (unknown resources are reported once by it). */
  circle_id: string | null
  details: ColumnType<Record<string, unknown>, string, string>
  created_at: ColumnType<Date, Date | string | undefined, Date | string>
}
