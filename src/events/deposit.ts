import type { Event, StatusUnion, StreamType } from './event.ts'
import { decodeMicros } from './money.ts'
import * as streams from './stream-name.ts'

/**
 * An inbound on-chain deposit to one of our addresses, keyed by Circle's transfer id. Recorded with
 * the wallet's FundsCredited. Amount in micro-units.
 */
export type DepositCompleted = Event<
  'DepositCompleted',
  { depositId: string; walletId: string; circleTransferId: string; amount: string; chain?: string; txHash?: string }
>

export type DepositEvent = DepositCompleted

/** `chain` and `txHash`: where the USDC came from on-chain, when Circle said (a fiat deposit has neither). */
export type DepositState = StatusUnion<{ status: 'none' } | { status: 'completed'; walletId: string; amount: bigint; chain?: string; txHash?: string }>

export const initialState: DepositState = { status: 'none' }

export function evolve(state: DepositState, event: DepositEvent): DepositState {
  switch (event.type) {
    case 'DepositCompleted':
      return {
        status: 'completed',
        walletId: event.data.walletId,
        amount: decodeMicros(event.data.amount),
        ...(event.data.chain === undefined ? {} : { chain: event.data.chain }),
        ...(event.data.txHash === undefined ? {} : { txHash: event.data.txHash }),
      }
    default: {
      event.type satisfies never
      return state
    }
  }
}

export const category = 'deposit'
/** Keyed by Circle's transfer id, so a repeated notification lands on the same stream. */
export const streamName = (circleTransferId: string) => streams.streamName(category, circleTransferId)
export const deposit: StreamType<DepositState, DepositEvent> = { category, streamName, initialState, evolve }
