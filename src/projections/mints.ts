import { mint, type MintEvent, type MintState } from '../events/mint.ts'
import { documentModel } from './document.ts'

export const mints = documentModel<MintState, MintEvent>({
  name: 'mints',
  version: 1,
  table: 'mints',
  type: mint,
  handles: { MintRequested: true, MintTreasuryChecked: true, MintSubmitted: true, MintCompleted: true, MintFailed: true, OperationNeedsAttention: true, OperationAttentionCleared: true },
  columns: (s) => ({
    wallet_id: s.walletId ?? '',
    status: s.status === 'none' ? 'pending' : s.status,
    amount: (s.amount ?? 0n).toString(),
    circle_id: s.circleTransferId ?? null,
  }),
})
