import { deposit, type DepositEvent, type DepositState } from '../events/deposit.ts'
import { documentModel } from './document.ts'

/** Inbound on-chain deposits, keyed (like their streams) by Circle's transfer id. */
export const deposits = documentModel<DepositState, DepositEvent>({
  name: 'deposits',
  // 2: the state keeps the deposit's chain and transaction hash.
  version: 2,
  table: 'deposits',
  type: deposit,
  handles: { DepositCompleted: true },
  columns: (s) => ({ wallet_id: s.walletId ?? '', status: s.status === 'none' ? 'pending' : s.status, amount: (s.amount ?? 0n).toString(), circle_id: null }),
})
