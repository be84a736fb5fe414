import type { ColumnType } from 'kysely'
import type { Micros } from './document.table.ts'

/** Per-wallet timeline of the money operations that touched it; a transfer between two of our wallets shows in both. */
export interface WalletOperationsTable {
  wallet_id: string
  operation_id: string
  kind: 'mint' | 'redeem' | 'transfer' | 'deposit'
  direction: 'in' | 'out'
  status: 'pending' | 'processing' | 'completed' | 'failed'
  amount: Micros
  created_at: ColumnType<Date, Date | string, Date | string>
  updated_at: ColumnType<Date, Date | string, Date | string>
  position: string
}
