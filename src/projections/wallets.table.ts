import type { DocumentColumns, Micros } from './document.table.ts'

/** Custodial wallets with their deposit addresses (in `state`) and balances in micro-units. */
export interface WalletsTable extends DocumentColumns {
  owner_id: string
  status: string
  circle_wallet_id: string | null
  available: Micros
  reserved: Micros
}
