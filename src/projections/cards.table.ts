import type { DocumentColumns } from './document.table.ts'

/** Virtual cards: the issuer's id and the last 4 digits, never the full number. */
export interface CardsTable extends DocumentColumns {
  wallet_id: string
  status: string
  issuer_card_id: string | null
}
