import { evolveAttention, type AttentionEvent, type AttentionState } from './attention.ts'
import type { Event, Failure, OperationStatus, StreamType } from './event.ts'
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

export interface MintState extends AttentionState {
  status: OperationStatus | 'none'
  mintId?: string
  walletId?: string
  amount?: bigint
  treasuryChecked: boolean
  circleTransferId?: string
  failure?: Failure
}

export const initialState: MintState = { status: 'none', treasuryChecked: false }

export function evolve(state: MintState, event: MintEvent): MintState {
  switch (event.type) {
    case 'MintRequested':
      return { status: 'pending', mintId: event.data.mintId, walletId: event.data.walletId, amount: decodeMicros(event.data.amount), treasuryChecked: false }
    case 'MintTreasuryChecked':
      return { ...state, treasuryChecked: true }
    case 'MintSubmitted':
      return { ...state, status: 'processing', circleTransferId: event.data.circleTransferId }
    case 'MintCompleted':
      return { ...state, status: 'completed', circleTransferId: event.data.circleTransferId }
    case 'MintFailed':
      return { ...state, status: 'failed', failure: event.data.failure }
    case 'OperationNeedsAttention':
    case 'OperationAttentionCleared':
      return evolveAttention(state, event)
    default: {
      event satisfies never
      return state
    }
  }
}

export const category = 'mint'
export const streamName = (id: string) => streams.streamName(category, id)
export const mint: StreamType<MintState, MintEvent> = { category, streamName, initialState, evolve }
