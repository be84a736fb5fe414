import { ATTENTION_EVENTS } from '../events/attention.ts'
import { mint, type MintEvent, type MintState } from '../events/mint.ts'
import { documentModel } from './document.ts'

export const mints = documentModel<MintState, MintEvent>({
  name: 'mints',
  version: 1,
  table: 'mints',
  type: mint,
  handles: ['MintRequested', 'MintTreasuryChecked', 'MintSubmitted', 'MintCompleted', 'MintFailed', ...ATTENTION_EVENTS],
  columns: (s) => ({
    wallet_id: s.walletId ?? '',
    status: s.status === 'none' ? 'pending' : s.status,
    amount: (s.amount ?? 0n).toString(),
    circle_id: s.circleTransferId ?? null,
  }),
})
