import { redeem, type RedeemEvent, type RedeemState } from '../events/redeem.ts'
import { documentModel } from './document.ts'

export const redeems = documentModel<RedeemState, RedeemEvent>({
  name: 'redeems',
  version: 1,
  table: 'redeems',
  type: redeem,
  handles: { RedeemRequested: true, RedeemTransferSubmitted: true, RedeemTransferCompleted: true, RedeemPayoutSubmitted: true, RedeemCompleted: true, RedeemPayoutFailed: true, RedeemCompensationSubmitted: true, RedeemCompensationFailed: true, RedeemFailed: true, OperationNeedsAttention: true, OperationAttentionCleared: true },
  columns: (s) => ({
    wallet_id: s.walletId ?? '',
    bank_account_id: s.bankAccountId ?? '',
    status: s.status === 'none' ? 'pending' : s.status,
    amount: (s.amount ?? 0n).toString(),
    circle_id: s.circlePayoutId ?? s.circleTransferId ?? null,
  }),
})
