import type { ColumnType } from 'kysely'

/** Micro-units in a numeric(38,0) column: read back as a decimal-integer string, written from a bigint's string. */
type Micros = ColumnType<string, string, string>
type Instant = ColumnType<Date, Date | string, Date | string>

/** What the journal remembers of an operation between its request and its outcome (who pays whom, how much). */
export interface JournalOperationsTable {
  operation_id: string
  kind: 'mint' | 'redeem' | 'transfer'
  wallet_id: string
  amount: Micros
  /** Account the funds go to on completion (mint: the account they come from). */
  counterparty: string
}

/** One journal entry per money-moving event; its postings sum to zero. */
export interface JournalEntriesTable {
  /** Sortable form of the event's position (see position-key.ts); orders entries. */
  position_key: string
  position: string
  stream: string
  revision: number
  event_id: string
  event_type: string
  operation_id: string
  operation_kind: 'mint' | 'redeem' | 'transfer' | 'deposit'
  description: string
  /** Who caused the event (API key name, process-manager, circle-webhook, ...) and the request, from its metadata. */
  actor: string
  request_id: string | null
  /** Circle's id of the transfer or payout that moved the money, when the event names one. */
  circle_id: string | null
  /** The event's recorded time, never earlier than the previous entry's: the entry's moment for `?at=`. */
  booked_at: Instant
}

export interface JournalPostingsTable {
  position_key: string
  /** Order of the posting inside its entry. */
  seq: number
  position: string
  account: string
  /** The wallet the account belongs to, for statements; null for other accounts. */
  wallet_id: string | null
  /** Signed: positive = the account received, negative = it gave. */
  amount: Micros
  /** The account's balance right after this posting: point-in-time balances are one index lookup. */
  balance_after: Micros
  booked_at: Instant
}

/** Every account's running balance, kept as the projection runs. */
export interface JournalAccountsTable {
  account: string
  wallet_id: string | null
  balance: Micros
  postings: ColumnType<string, string | number, string | number>
  last_position_key: string
}
