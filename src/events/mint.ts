import { evolveAttention, type AttentionEvent, type AttentionState } from './attention.ts'
import type { Event, Failure, StatusUnion, StreamType } from './event.ts'
import { decodeMicros } from './money.ts'
import * as streams from './stream-name.ts'

/** Fiat -> USDC: Circle moves USDC from the master (treasury) wallet to the user's wallet. Amount in micro-units. */
export type MintRequested = Event<'MintRequested', { mintId: string; walletId: string; amount: string }>
/**
 * The treasury covered the amount when checked. Recorded before calling Circle, so a restart after
 * the transfer was sent replays the transfer instead of re-checking a treasury it already drained.
 */
export type MintTreasuryChecked = Event<'MintTreasuryChecked', { mintId: string; treasuryAvailable: string }>
export type MintSubmitted = Event<'MintSubmitted', { mintId: string; circleTransferId: string }>
/** Recorded together with the wallet's FundsCredited. */
export type MintCompleted = Event<'MintCompleted', { mintId: string; circleTransferId: string }>
export type MintFailed = Event<'MintFailed', { mintId: string; failure: Failure }>

export type MintEvent = MintRequested | MintTreasuryChecked | MintSubmitted | MintCompleted | MintFailed | AttentionEvent

/** What every requested mint carries, whatever its status. */
interface MintRequest extends AttentionState {
  mintId: string
  walletId: string
  amount: bigint
  treasuryChecked: boolean
}

/** A mint's state by status: each field exists only in the statuses where it is known. */
export type MintState = StatusUnion<
  | (AttentionState & { status: 'none'; treasuryChecked: boolean })
  | (MintRequest & { status: 'pending' })
  | (MintRequest & { status: 'processing' | 'completed'; circleTransferId: string })
  | (MintRequest & { status: 'failed'; failure: Failure; circleTransferId?: string })
>

export const initialState: MintState = { status: 'none', treasuryChecked: false }

export function evolve(state: MintState, event: MintEvent): MintState {
  switch (event.type) {
    case 'MintRequested':
      return { status: 'pending', mintId: event.data.mintId, walletId: event.data.walletId, amount: decodeMicros(event.data.amount), treasuryChecked: false }
    case 'MintTreasuryChecked':
      return { ...state, treasuryChecked: true }
    case 'OperationNeedsAttention':
    case 'OperationAttentionCleared':
      return evolveAttention(state, event)
  }
  // The deciders append an outcome only to a mint in flight; anywhere else it would change nothing.
  if (state.status !== 'pending' && state.status !== 'processing') return state
  switch (event.type) {
    case 'MintSubmitted':
      return { ...state, status: 'processing', circleTransferId: event.data.circleTransferId }
    case 'MintCompleted':
      return { ...state, status: 'completed', circleTransferId: event.data.circleTransferId }
    case 'MintFailed':
      return { ...state, status: 'failed', failure: event.data.failure }
    default: {
      event satisfies never
      return state
    }
  }
}

export const category = 'mint'
export const streamName = (id: string) => streams.streamName(category, id)
export const mint: StreamType<MintState, MintEvent> = { category, streamName, initialState, evolve }
