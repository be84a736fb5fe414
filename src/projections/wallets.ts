import type { Kysely } from 'kysely'
import type { Database } from '../database.ts'
import { available, reserved, wallet, type WalletEvent } from '../events/wallet.ts'
import { documentModel, listDocuments, readDocument } from './document.ts'
import type { PageRequest } from './pagination.ts'

/** Wallets: status, Circle wallet id, deposit addresses, and available / reserved balances. */
export const wallets = documentModel<typeof wallet.initialState, WalletEvent>({
  name: 'wallets',
  version: 1,
  table: 'wallets',
  type: wallet,
  handles: { WalletCreationRequested: true, WalletCreated: true, WalletCreationFailed: true, DepositAddressRequested: true, DepositAddressCreated: true, DepositAddressFailed: true, FundsReserved: true, ReservationReleased: true, FundsDebited: true, FundsCredited: true, OperationNeedsAttention: true, OperationAttentionCleared: true },
  columns: (s) => ({
    owner_id: s.ownerId ?? '',
    status: s.status === 'none' ? 'pending' : s.status,
    circle_wallet_id: s.circleWalletId ?? null,
    available: available(s).toString(),
    reserved: reserved(s).toString(),
  }),
})

export const getWallet = (db: Kysely<Database>, id: string) => readDocument(db, wallets, id)

export const listWallets = (db: Kysely<Database>, filter: { ownerId?: string | undefined }, page: PageRequest) =>
  listDocuments(db, wallets, { equals: { owner_id: filter.ownerId } }, page)
