import { ATTENTION_EVENTS } from '../events/attention.ts'
import { card, type CardEvent, type CardState } from '../events/card.ts'
import { documentModel } from './document.ts'

export const cards = documentModel<CardState, CardEvent>({
  name: 'cards',
  version: 1,
  table: 'cards',
  type: card,
  handles: ['CardRequested', 'CardIssued', 'CardIssueFailed', 'CardFrozen', 'CardUnfrozen', 'CardClosed', 'CardStatusChanged', ...ATTENTION_EVENTS],
  columns: (s) => ({ wallet_id: s.walletId ?? '', status: s.status === 'none' ? 'pending' : s.status, issuer_card_id: s.issuerCardId ?? null }),
})
