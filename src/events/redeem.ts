import { evolveAttention, type AttentionEvent, type AttentionState } from './attention.ts'
import type { Event, Failure, StatusUnion, StreamType } from './event.ts'
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
/**
 * The transfer back failed at Circle: the USDC is still in the master wallet and a transfer back is
 * due again. A new one is sent only once an admin replays the dead letter this leads to (the cause
 * may need fixing at Circle first); sending one at every retry would only pile up failed transfers.
 */
export type RedeemCompensationFailed = Event<'RedeemCompensationFailed', { redeemId: string; circleTransferId: string; failure: Failure }>
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
  | RedeemCompensationFailed
  | RedeemFailed
  | AttentionEvent

export type RedeemPhase = 'none' | 'requested' | 'transferring' | 'transferred' | 'paying_out' | 'compensation_due' | 'compensating' | 'completed' | 'failed'

/** What every requested redeem carries, whatever its phase. */
interface RedeemRequest extends AttentionState {
  redeemId: string
  walletId: string
  bankAccountId: string
  amount: bigint
}

/**
 * Transfers back that failed at Circle, oldest first (absent: none), and whether an admin has since
 * replayed the dead letter, which lets the next one be sent.
 */
interface CompensationHistory {
  failedCompensations?: string[]
  compensationReplayed?: boolean
}

/**
 * A redeem's state by phase, each with the status it shows (status is never set apart from the
 * phase): each field exists only in the phases where it is known. `transferCompleted`: step 1 moved
 * the USDC to the master wallet, so a failure from there on needs the transfer back.
 */
export type RedeemState = StatusUnion<
  | (AttentionState & { phase: 'none'; status: 'none'; transferCompleted: false })
  | (RedeemRequest & { phase: 'requested'; status: 'pending'; transferCompleted: false })
  | (RedeemRequest & { phase: 'transferring'; status: 'processing'; transferCompleted: false; circleTransferId: string })
  | (RedeemRequest & { phase: 'transferred'; status: 'processing'; transferCompleted: true; circleTransferId: string })
  | (RedeemRequest & { phase: 'paying_out'; status: 'processing'; transferCompleted: true; circleTransferId: string; circlePayoutId: string })
  | (RedeemRequest & { phase: 'completed'; status: 'completed'; transferCompleted: true; circleTransferId: string; circlePayoutId: string })
  | (RedeemRequest &
      CompensationHistory & { phase: 'compensation_due'; status: 'processing'; transferCompleted: true; circleTransferId: string; circlePayoutId?: string; failure: Failure })
  | (RedeemRequest &
      CompensationHistory & {
      phase: 'compensating'
      status: 'processing'
      transferCompleted: true
      circleTransferId: string
      circlePayoutId?: string
      failure: Failure
      compensationTransferId: string
    })
  | (RedeemRequest &
      CompensationHistory & {
      phase: 'failed'
      status: 'failed'
      transferCompleted: boolean
      circleTransferId?: string
      circlePayoutId?: string
      failure: Failure
      compensationTransferId?: string
    })
>

export const initialState: RedeemState = { status: 'none', phase: 'none', transferCompleted: false }

export function evolve(state: RedeemState, event: RedeemEvent): RedeemState {
  switch (event.type) {
    case 'RedeemRequested': {
      const { redeemId, walletId, bankAccountId, amount } = event.data
      return { status: 'pending', phase: 'requested', redeemId, walletId, bankAccountId, amount: decodeMicros(amount), transferCompleted: false }
    }
    case 'OperationNeedsAttention':
      return evolveAttention(state, event)
    case 'OperationAttentionCleared': {
      const cleared = evolveAttention(state, event)
      if (cleared === state || cleared.phase !== 'compensation_due' || !cleared.failedCompensations?.length) return cleared
      // A replay after a failed transfer back is the admin's go-ahead for a new one; a discard takes
      // back any go-ahead not yet used (the admin may have settled it by hand).
      return { ...cleared, compensationReplayed: event.data.resolution === 'replayed' }
    }
  }
  // Each outcome changes only the phases the decider appends it from; anywhere else it changes nothing.
  switch (event.type) {
    case 'RedeemTransferSubmitted':
      if (state.phase !== 'requested') return state
      return { ...state, phase: 'transferring', status: 'processing', circleTransferId: event.data.circleTransferId }
    case 'RedeemTransferCompleted':
      if (state.phase !== 'requested' && state.phase !== 'transferring') return state
      return { ...state, phase: 'transferred', status: 'processing', transferCompleted: true, circleTransferId: event.data.circleTransferId }
    case 'RedeemPayoutSubmitted':
      if (state.phase !== 'transferred') return state
      return { ...state, phase: 'paying_out', status: 'processing', circlePayoutId: event.data.circlePayoutId }
    case 'RedeemCompleted':
      if (state.phase !== 'transferred' && state.phase !== 'paying_out') return state
      return { ...state, phase: 'completed', status: 'completed', circlePayoutId: event.data.circlePayoutId }
    case 'RedeemPayoutFailed':
      if (state.phase !== 'transferred' && state.phase !== 'paying_out') return state
      return { ...state, phase: 'compensation_due', status: 'processing', failure: event.data.failure }
    case 'RedeemCompensationSubmitted':
      if (state.phase !== 'compensation_due') return state
      return { ...state, phase: 'compensating', status: 'processing', compensationTransferId: event.data.circleTransferId }
    case 'RedeemCompensationFailed': {
      if (state.phase !== 'compensating' || state.compensationTransferId !== event.data.circleTransferId) return state
      const { compensationTransferId: _c, compensationReplayed: _r, ...rest } = state
      return { ...rest, phase: 'compensation_due', failedCompensations: [...(state.failedCompensations ?? []), event.data.circleTransferId] }
    }
    case 'RedeemFailed':
      if (state.phase === 'none' || state.phase === 'completed' || state.phase === 'failed') return state
      return { ...state, phase: 'failed', status: 'failed', failure: event.data.failure }
    default: {
      event satisfies never
      return state
    }
  }
}

export const category = 'redeem'
export const streamName = (id: string) => streams.streamName(category, id)
export const redeem: StreamType<RedeemState, RedeemEvent> = { category, streamName, initialState, evolve }
