import type { DocumentColumns, Micros } from './document.table.ts'

/** Columns shared by the money operations (mints, redeems, transfers, deposits): filters of their lists. */
export interface OperationColumns extends DocumentColumns {
  wallet_id: string
  status: string
  amount: Micros
  /** Circle's id of the operation's latest resource (transfer or payout). */
  circle_id: string | null
}

export type MintsTable = OperationColumns

export interface RedeemsTable extends OperationColumns {
  bank_account_id: string
}

export interface TransfersTable extends OperationColumns {
  /** Set when the destination is one of our wallets. */
  destination_wallet_id: string | null
}

export type DepositsTable = OperationColumns
