import type { ColumnType } from 'kysely'

/** High-water marks of Circle listings: the creation time from which the next poll lists again. */
export interface CirclePollMarksTable {
  name: string
  /** ISO 8601, Circle's `createDate`; kept as text so it goes back to Circle exactly as received. */
  mark: string
  updated_at: Date
}

/**
 * Inbound transfers the deposit poller listed and could not record yet: still pending at Circle, or
 * addressed to a Circle wallet the Circle-id read model does not know yet. Each poll settles a few of
 * them (least recently checked first), asking Circle by id, so the listing never goes back for them.
 */
export interface CirclePendingDepositsTable {
  circle_transfer_id: string
  /** The Circle wallet it goes to: while the Circle-id read model does not know it, Circle is not asked. */
  circle_wallet_id: string
  /** Circle's `createDate` (ISO 8601), as listed: for the log line when the deposit is given up. */
  create_date: string
  /** Why it waits: `pending` at Circle, or to an `unknown_wallet`. */
  reason: string
  /** When a poll first listed it: the hold counts from here. */
  listed_at: ColumnType<Date, Date | undefined, never>
  /** When a poll last settled it (or listed it); the least recent go first. */
  checked_at: ColumnType<Date, Date | undefined, Date>
}
