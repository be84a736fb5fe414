import type { ColumnType } from 'kysely'

/** Which of our streams a Circle (or card issuer) id belongs to: how webhooks and reconciliation find their operation. */
export interface CircleIdsTable {
  /** Circle's id; for deposit addresses `address:{chain}:{address}[:{tag}]`. */
  circle_id: string
  kind: 'wallet' | 'wire' | 'mint_transfer' | 'redeem_transfer' | 'redeem_payout' | 'redeem_compensation' | 'transfer' | 'deposit' | 'card' | 'address'
  stream: string
  entity_id: string
  created_at: ColumnType<Date, Date | string, never>
  position: string
}
