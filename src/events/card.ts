import { evolveAttention, type AttentionEvent, type AttentionState } from './attention.ts'
import type { Event, Failure, StreamType } from './event.ts'

/**
 * A virtual card from the card issuer (Circle has no card issuing; see the CardIssuer port). The
 * full card number never enters an event: the issuer holds it; we keep its id and the last 4 digits.
 */
export type CardRequested = Event<'CardRequested', { cardId: string; walletId: string; cardholderName: string }>
export type CardIssued = Event<
  'CardIssued',
  { cardId: string; issuerCardId: string; last4: string; expMonth: number; expYear: number; network: string }
>
export type CardIssueFailed = Event<'CardIssueFailed', { cardId: string; failure: Failure }>
export type CardFrozen = Event<'CardFrozen', { cardId: string; reason?: string }>
export type CardUnfrozen = Event<'CardUnfrozen', { cardId: string }>
export type CardClosed = Event<'CardClosed', { cardId: string; reason?: string }>
/** The issuer changed the card's status on its own (issuer webhook). */
export type CardStatusChanged = Event<'CardStatusChanged', { cardId: string; status: 'active' | 'frozen' | 'closed'; reason?: string }>

export type CardEvent = CardRequested | CardIssued | CardIssueFailed | CardFrozen | CardUnfrozen | CardClosed | CardStatusChanged | AttentionEvent

export type CardStatus = 'none' | 'pending' | 'active' | 'frozen' | 'closed' | 'failed'

export interface CardState extends AttentionState {
  status: CardStatus
  cardId?: string
  walletId?: string
  cardholderName?: string
  issuerCardId?: string
  last4?: string
  expMonth?: number
  expYear?: number
  network?: string
  failure?: Failure
}

export const initialState: CardState = { status: 'none' }

export function evolve(state: CardState, event: CardEvent): CardState {
  switch (event.type) {
    case 'CardRequested':
      return { status: 'pending', ...event.data }
    case 'CardIssued': {
      const { issuerCardId, last4, expMonth, expYear, network } = event.data
      return { ...state, status: 'active', issuerCardId, last4, expMonth, expYear, network }
    }
    case 'CardIssueFailed':
      return { ...state, status: 'failed', failure: event.data.failure }
    case 'CardFrozen':
      return { ...state, status: 'frozen' }
    case 'CardUnfrozen':
      return { ...state, status: 'active' }
    case 'CardClosed':
      return { ...state, status: 'closed' }
    case 'CardStatusChanged':
      return { ...state, status: event.data.status }
    case 'OperationNeedsAttention':
    case 'OperationAttentionCleared':
      return evolveAttention(state, event)
    default: {
      event satisfies never
      return state
    }
  }
}

export const category = 'card'
export const streamName = (id: string) => `card-${id}`
export const card: StreamType<CardState, CardEvent> = { category, streamName, initialState, evolve }
