import { evolveAttention, type AttentionEvent, type AttentionState } from './attention.ts'
import type { Event, Failure, StatusUnion, StreamType } from './event.ts'
import { decodeMicros } from './money.ts'
import * as streams from './stream-name.ts'

/** Where a transfer goes: one of our wallets (off-chain at Circle) or a blockchain address. */
export type TransferDestination =
  | { type: 'wallet'; walletId: string }
  | { type: 'blockchain'; chain: string; address: string; addressTag?: string }

/** Recorded with the source wallet's FundsReserved. Amount in micro-units. */
export type TransferRequested = Event<
  'TransferRequested',
  { transferId: string; sourceWalletId: string; destination: TransferDestination; amount: string }
>
export type TransferSubmitted = Event<'TransferSubmitted', { transferId: string; circleTransferId: string }>
/** Recorded with the source's FundsDebited and, for an internal transfer, the destination's FundsCredited. */
export type TransferCompleted = Event<'TransferCompleted', { transferId: string; circleTransferId: string; txHash?: string }>
/** Recorded with the source's ReservationReleased. */
export type TransferFailed = Event<'TransferFailed', { transferId: string; failure: Failure }>

export type TransferEvent = TransferRequested | TransferSubmitted | TransferCompleted | TransferFailed | AttentionEvent

/** What every requested transfer carries, whatever its status. */
interface TransferRequest extends AttentionState {
  transferId: string
  sourceWalletId: string
  destination: TransferDestination
  amount: bigint
}

/** A transfer's state by status: each field exists only in the statuses where it is known. */
export type TransferState = StatusUnion<
  | (AttentionState & { status: 'none' })
  | (TransferRequest & { status: 'pending' })
  | (TransferRequest & { status: 'processing'; circleTransferId: string })
  | (TransferRequest & { status: 'completed'; circleTransferId: string; txHash?: string })
  | (TransferRequest & { status: 'failed'; failure: Failure; circleTransferId?: string })
>

export const initialState: TransferState = { status: 'none' }

export function evolve(state: TransferState, event: TransferEvent): TransferState {
  switch (event.type) {
    case 'TransferRequested': {
      const { transferId, sourceWalletId, destination, amount } = event.data
      return { status: 'pending', transferId, sourceWalletId, destination, amount: decodeMicros(amount) }
    }
    case 'OperationNeedsAttention':
    case 'OperationAttentionCleared':
      return evolveAttention(state, event)
  }
  // The deciders append an outcome only to a transfer in flight; anywhere else it would change nothing.
  if (state.status !== 'pending' && state.status !== 'processing') return state
  switch (event.type) {
    case 'TransferSubmitted':
      return { ...state, status: 'processing', circleTransferId: event.data.circleTransferId }
    case 'TransferCompleted': {
      const { txHash, circleTransferId } = event.data
      return txHash === undefined ? { ...state, status: 'completed', circleTransferId } : { ...state, status: 'completed', circleTransferId, txHash }
    }
    case 'TransferFailed':
      return { ...state, status: 'failed', failure: event.data.failure }
    default: {
      event satisfies never
      return state
    }
  }
}

export const category = 'transfer'
export const streamName = (id: string) => streams.streamName(category, id)
export const transfer: StreamType<TransferState, TransferEvent> = { category, streamName, initialState, evolve }
