import type { BankAccountsTable } from './bank-accounts.table.ts'
import type { CardsTable } from './cards.table.ts'
import type { CircleIdsTable } from './circle-ids.table.ts'
import type { DepositsTable, MintsTable, RedeemsTable, TransfersTable } from './operations.table.ts'
import type { WalletOperationsTable } from './wallet-operations.table.ts'
import type { WalletsTable } from './wallets.table.ts'

/** The read models' tables, as composed into the service's Database type. */
export interface ReadModelTables {
  wallets: WalletsTable
  bank_accounts: BankAccountsTable
  mints: MintsTable
  redeems: RedeemsTable
  transfers: TransfersTable
  deposits: DepositsTable
  cards: CardsTable
  circle_ids: CircleIdsTable
  wallet_operations: WalletOperationsTable
}
