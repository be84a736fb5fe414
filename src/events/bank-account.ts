import { evolveAttention, type AttentionEvent, type AttentionState } from './attention.ts'
import type { Event, Failure, StatusUnion, StreamType } from './event.ts'
import * as streams from './stream-name.ts'

/**
 * A wire bank account linked for redeem payouts. The full account number or IBAN never enters an
 * event: Circle holds it; we keep Circle's id and the last 4 digits.
 */
export type BankAccountLinkRequested = Event<
  'BankAccountLinkRequested',
  {
    bankAccountId: string
    ownerId: string
    /** 'swift': an account number at a bank outside the US without IBAN, routed by SWIFT/BIC. */
    accountType: 'us' | 'iban' | 'swift'
    last4: string
    holderName: string
    bankName?: string
    country: string
    description?: string
  }
>
/** Circle accepted the wire account; it is not usable until Circle marks it complete. */
export type BankAccountSubmitted = Event<'BankAccountSubmitted', { bankAccountId: string; circleWireId: string }>
export type BankAccountLinked = Event<'BankAccountLinked', { bankAccountId: string; circleWireId: string }>
export type BankAccountLinkFailed = Event<'BankAccountLinkFailed', { bankAccountId: string; failure: Failure }>

export type BankAccountEvent = BankAccountLinkRequested | BankAccountSubmitted | BankAccountLinked | BankAccountLinkFailed | AttentionEvent

export type BankAccountStatus = 'none' | 'pending' | 'active' | 'failed'

/** What every requested link carries, whatever its status. */
interface BankAccountRequest extends AttentionState {
  bankAccountId: string
  ownerId: string
  last4: string
  description?: string
}

/** A bank account's state by status: Circle's wire id exists once Circle accepted the account. */
export type BankAccountState = StatusUnion<
  | (AttentionState & { status: 'none' })
  | (BankAccountRequest & { status: 'pending'; circleWireId?: string })
  | (BankAccountRequest & { status: 'active'; circleWireId: string })
  | (BankAccountRequest & { status: 'failed'; failure: Failure; circleWireId?: string })
>

export const initialState: BankAccountState = { status: 'none' }

export function evolve(state: BankAccountState, event: BankAccountEvent): BankAccountState {
  switch (event.type) {
    case 'BankAccountLinkRequested': {
      const { bankAccountId, ownerId, last4, description } = event.data
      return description === undefined ? { status: 'pending', bankAccountId, ownerId, last4 } : { status: 'pending', bankAccountId, ownerId, last4, description }
    }
    case 'OperationNeedsAttention':
    case 'OperationAttentionCleared':
      return evolveAttention(state, event)
  }
  // The deciders append an outcome only to a pending link; anywhere else it would change nothing.
  if (state.status !== 'pending') return state
  switch (event.type) {
    case 'BankAccountSubmitted':
      return { ...state, circleWireId: event.data.circleWireId }
    case 'BankAccountLinked':
      return { ...state, status: 'active', circleWireId: event.data.circleWireId }
    case 'BankAccountLinkFailed':
      return { ...state, status: 'failed', failure: event.data.failure }
    default: {
      event satisfies never
      return state
    }
  }
}

export const category = 'bankaccount'
export const streamName = (id: string) => streams.streamName(category, id)
export const bankAccount: StreamType<BankAccountState, BankAccountEvent> = { category, streamName, initialState, evolve }
