import { evolveAttention, type AttentionEvent, type AttentionState } from './attention.ts'
import type { Event, Failure, OperationStatus, StreamType } from './event.ts'
import { decodeMicros } from './money.ts'
import * as streams from './stream-name.ts'

/**
 * USDC -> fiat wire, in two Circle steps: (1) transfer user wallet -> master wallet, (2) business
 * payout to the linked wire account. If the payout fails after step 1, the USDC is transferred back
 * (compensation) before the redeem fails. Recorded with the wallet's FundsReserved at request,
 * FundsDebited at completion, ReservationReleased at failure. Amount in micro-units.
 */
export type RedeemRequested = Event<'RedeemRequested', { redeemId: string; walletId: string; bankAccountId: string; amount: string }>
export type RedeemTransferSubmitted = Event<'RedeemTransferSubmitted', { redeemId: string; circleTransferId: string }>
export type RedeemTransferCompleted = Event<'RedeemTransferCompleted', { redeemId: string; circleTransferId: string }>
export type RedeemPayoutSubmitted = Event<'RedeemPayoutSubmitted', { redeemId: string; circlePayoutId: string }>
export type RedeemCompleted = Event<'RedeemCompleted', { redeemId: string; circlePayoutId: string }>
/** The payout failed after step 1 moved the USDC: a transfer back is due. */
export type RedeemPayoutFailed = Event<'RedeemPayoutFailed', { redeemId: string; failure: Failure }>
export type RedeemCompensationSubmitted = Event<'RedeemCompensationSubmitted', { redeemId: string; circleTransferId: string }>
/** Terminal. `compensated`: the USDC came back from the master wallet first. */
export type RedeemFailed = Event<'RedeemFailed', { redeemId: string; failure: Failure; compensated: boolean }>

export type RedeemEvent =
  | RedeemRequested
  | RedeemTransferSubmitted
  | RedeemTransferCompleted
  | RedeemPayoutSubmitted
  | RedeemCompleted
  | RedeemPayoutFailed
  | RedeemCompensationSubmitted
  | RedeemFailed
  | AttentionEvent

export type RedeemPhase = 'none' | 'requested' | 'transferring' | 'transferred' | 'paying_out' | 'compensation_due' | 'compensating' | 'completed' | 'failed'

export interface RedeemState extends AttentionState {
  status: OperationStatus | 'none'
  phase: RedeemPhase
  redeemId?: string
  walletId?: string
  bankAccountId?: string
  amount?: bigint
  circleTransferId?: string
  circlePayoutId?: string
  compensationTransferId?: string
  /** Step 1 moved the USDC to the master wallet: a failure from here on needs the transfer back. */
  transferCompleted: boolean
  failure?: Failure
}

export const initialState: RedeemState = { status: 'none', phase: 'none', transferCompleted: false }

/** The operation status each phase shows; status is never set apart from the phase. */
const statusOf: Record<RedeemPhase, RedeemState['status']> = {
  none: 'none',
  requested: 'pending',
  transferring: 'processing',
  transferred: 'processing',
  paying_out: 'processing',
  compensation_due: 'processing',
  compensating: 'processing',
  completed: 'completed',
  failed: 'failed',
}

export function evolve(state: RedeemState, event: RedeemEvent): RedeemState {
  const next = apply(state, event)
  return next === state ? state : { ...next, status: statusOf[next.phase] }
}

/** The phase change of one event; `evolve` derives the status from the phase. */
function apply(state: RedeemState, event: RedeemEvent): RedeemState {
  switch (event.type) {
    case 'RedeemRequested': {
      const { redeemId, walletId, bankAccountId, amount } = event.data
      return { status: 'pending', phase: 'requested', redeemId, walletId, bankAccountId, amount: decodeMicros(amount), transferCompleted: false }
    }
    case 'RedeemTransferSubmitted':
      return { ...state, phase: 'transferring', circleTransferId: event.data.circleTransferId }
    case 'RedeemTransferCompleted':
      return { ...state, phase: 'transferred', transferCompleted: true, circleTransferId: event.data.circleTransferId }
    case 'RedeemPayoutSubmitted':
      return { ...state, phase: 'paying_out', circlePayoutId: event.data.circlePayoutId }
    case 'RedeemCompleted':
      return { ...state, phase: 'completed', circlePayoutId: event.data.circlePayoutId }
    case 'RedeemPayoutFailed':
      return { ...state, phase: 'compensation_due', failure: event.data.failure }
    case 'RedeemCompensationSubmitted':
      return { ...state, phase: 'compensating', compensationTransferId: event.data.circleTransferId }
    case 'RedeemFailed':
      return { ...state, phase: 'failed', failure: event.data.failure }
    case 'OperationNeedsAttention':
    case 'OperationAttentionCleared':
      return evolveAttention(state, event)
    default: {
      event satisfies never
      return state
    }
  }
}

export const category = 'redeem'
export const streamName = (id: string) => streams.streamName(category, id)
export const redeem: StreamType<RedeemState, RedeemEvent> = { category, streamName, initialState, evolve }
