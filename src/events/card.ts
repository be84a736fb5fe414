import { evolveAttention, type AttentionEvent, type AttentionState } from './attention.ts'
import type { Event, Failure, StatusUnion, StreamType } from './event.ts'
import * as streams from './stream-name.ts'

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
/** Card actions: what the API asks the issuer to do to a card. */
export type CardAction = 'freeze' | 'unfreeze' | 'close'
/** The issuer confirmed the freeze (within the request, or later through the process manager). */
export type CardFrozen = Event<'CardFrozen', { cardId: string; reason?: string }>
export type CardUnfrozen = Event<'CardUnfrozen', { cardId: string }>
export type CardClosed = Event<'CardClosed', { cardId: string; reason?: string }>
/** The issuer did not confirm in time: the action is pending and the process manager keeps trying. */
export type CardActionRequested = Event<'CardActionRequested', { cardId: string; action: CardAction; reason?: string }>
/** The issuer refused a pending action later on; the card stays as it was. */
export type CardActionFailed = Event<'CardActionFailed', { cardId: string; action: CardAction; failure: Failure }>
/** The issuer changed the card's status on its own (issuer webhook). */
export type CardStatusChanged = Event<'CardStatusChanged', { cardId: string; status: 'active' | 'frozen' | 'closed'; reason?: string }>

export type CardEvent =
  | CardRequested
  | CardIssued
  | CardIssueFailed
  | CardFrozen
  | CardUnfrozen
  | CardClosed
  | CardActionRequested
  | CardActionFailed
  | CardStatusChanged
  | AttentionEvent

export type CardStatus = 'none' | 'pending' | 'active' | 'frozen' | 'closed' | 'failed'

/** What every requested card carries, whatever its status. */
interface CardRequest extends AttentionState {
  cardId: string
  walletId: string
  cardholderName: string
}

/** What the issuer told us of an issued card, and the actions asked of it since. */
interface IssuedCard extends CardRequest {
  issuerCardId: string
  last4: string
  expMonth: number
  expYear: number
  network: string
  /** An action asked of the issuer and not confirmed yet. */
  pendingAction?: CardAction
  pendingReason?: string
  /** How many actions went pending so far: names each one's outcome apart from earlier ones. */
  actionRequests?: number
  /** Why the issuer refused the last pending action. */
  actionFailure?: { action: CardAction; failure: Failure }
}

/** A card's state by status: the issuer's fields and actions exist only once it issued the card. */
export type CardState = StatusUnion<
  | (AttentionState & { status: 'none' })
  | (CardRequest & { status: 'pending' })
  | (IssuedCard & { status: 'active' | 'frozen' | 'closed' })
  | (CardRequest & { status: 'failed'; failure: Failure })
>

/** A card the issuer issued: the only kind an action applies to. */
export type IssuedCardState = Extract<CardState, { status: 'active' | 'frozen' | 'closed' }>

/** The status each action leads to. */
export const actionTarget = { freeze: 'frozen', unfreeze: 'active', close: 'closed' } as const satisfies Record<CardAction, CardStatus>

const settled = (state: IssuedCard): IssuedCard => {
  const { pendingAction: _a, pendingReason: _r, ...rest } = state
  return rest
}

export const initialState: CardState = { status: 'none' }

export function evolve(state: CardState, event: CardEvent): CardState {
  switch (event.type) {
    case 'CardRequested':
      return { status: 'pending', ...event.data }
    case 'OperationNeedsAttention':
    case 'OperationAttentionCleared':
      return evolveAttention(state, event)
    case 'CardIssued': {
      if (state.status !== 'pending') return state
      const { issuerCardId, last4, expMonth, expYear, network } = event.data
      return { ...state, status: 'active', issuerCardId, last4, expMonth, expYear, network }
    }
    case 'CardIssueFailed':
      if (state.status !== 'pending') return state
      return { ...state, status: 'failed', failure: event.data.failure }
  }
  // The deciders append the rest only to an issued card; anywhere else it would change nothing.
  if (state.status !== 'active' && state.status !== 'frozen' && state.status !== 'closed') return state
  switch (event.type) {
    case 'CardFrozen':
      return { ...settled(state), status: 'frozen' }
    case 'CardUnfrozen':
      return { ...settled(state), status: 'active' }
    case 'CardClosed':
      return { ...settled(state), status: 'closed' }
    case 'CardActionRequested': {
      const next: CardState = { ...settled(state), status: state.status, pendingAction: event.data.action, actionRequests: (state.actionRequests ?? 0) + 1 }
      if (event.data.reason !== undefined) next.pendingReason = event.data.reason
      return next
    }
    case 'CardActionFailed':
      return { ...settled(state), status: state.status, actionFailure: { action: event.data.action, failure: event.data.failure } }
    case 'CardStatusChanged':
      // The issuer's own change wins; a pending action is kept for the process manager to retry, unless the card is closed for good.
      return event.data.status === 'closed' ? { ...settled(state), status: 'closed' } : { ...state, status: event.data.status }
    default: {
      event satisfies never
      return state
    }
  }
}

export const category = 'card'
export const streamName = (id: string) => streams.streamName(category, id)
export const card: StreamType<CardState, CardEvent> = { category, streamName, initialState, evolve }
