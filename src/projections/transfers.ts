import { transfer, type TransferEvent, type TransferState } from '../events/transfer.ts'
import { documentModel } from './document.ts'

export const transfers = documentModel<TransferState, TransferEvent>({
  name: 'transfers',
  version: 1,
  table: 'transfers',
  type: transfer,
  handles: { TransferRequested: true, TransferSubmitted: true, TransferCompleted: true, TransferFailed: true, OperationNeedsAttention: true, OperationAttentionCleared: true },
  columns: (s) => ({
    wallet_id: s.sourceWalletId ?? '',
    destination_wallet_id: s.destination?.type === 'wallet' ? s.destination.walletId : null,
    status: s.status === 'none' ? 'pending' : s.status,
    amount: (s.amount ?? 0n).toString(),
    circle_id: s.circleTransferId ?? null,
  }),
})
