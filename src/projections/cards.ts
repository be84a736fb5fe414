import { card, type CardEvent, type CardState } from '../events/card.ts'
import { documentModel } from './document.ts'

export const cards = documentModel<CardState, CardEvent>({
  name: 'cards',
  version: 1,
  table: 'cards',
  type: card,
  handles: { CardRequested: true, CardIssued: true, CardIssueFailed: true, CardFrozen: true, CardUnfrozen: true, CardClosed: true, CardStatusChanged: true, CardActionRequested: true, CardActionFailed: true, OperationNeedsAttention: true, OperationAttentionCleared: true },
  columns: (s) => ({ wallet_id: s.walletId ?? '', status: s.status === 'none' ? 'pending' : s.status, issuer_card_id: s.issuerCardId ?? null }),
})
