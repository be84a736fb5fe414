import { z } from 'zod'
import { encodeMicros } from '../events/money.ts'
import { redeem, type RedeemEvent, type RedeemPhase, type RedeemState } from '../events/redeem.ts'
import { wallet, type WalletEvent, type WalletState } from '../events/wallet.ts'
import { DomainError } from './errors.ts'
import type { Decider, Decision } from './handler.ts'
import { failure, id, requireExisting } from './rules.ts'

const circleId = z.string().min(1).max(64)
export const schema = z.object({
  redeemId: id,
  outcome: z.discriminatedUnion('type', [
    z.object({ type: z.literal('transfer_submitted'), circleTransferId: circleId }),
    z.object({ type: z.literal('transfer_completed'), circleTransferId: circleId }),
    z.object({ type: z.literal('transfer_failed'), failure }),
    z.object({ type: z.literal('payout_submitted'), circlePayoutId: circleId }),
    z.object({ type: z.literal('payout_completed'), circlePayoutId: circleId }),
    z.object({ type: z.literal('payout_failed'), failure }),
    z.object({ type: z.literal('compensation_submitted'), circleTransferId: circleId }),
    z.object({ type: z.literal('compensation_completed'), circleTransferId: circleId }),
    z.object({ type: z.literal('compensation_failed'), circleTransferId: circleId, failure }),
  ]),
})
export type RecordRedeemOutcome = z.infer<typeof schema>

/**
 * The outcome name (see `outcomeCommandId`) a failed transfer back is recorded under: one per Circle
 * transfer, the same from the process manager and the transfers webhook, so either's record is the
 * other's repeat.
 */
export const compensationFailedName = (circleTransferId: string) => `compensation_failed:${circleTransferId}`
type Outcome = RecordRedeemOutcome['outcome']
/** The redeem's wallet is read once the redeem names it; only terminal outcomes append to it. */
type State = { redeem: RedeemState; wallet?: WalletState }
type Events = { redeem: RedeemEvent; wallet: WalletEvent }

/** The phase each outcome moves to, and the phases it may come from. */
const moves: Record<Outcome['type'], { to: RedeemPhase; from: RedeemPhase[] }> = {
  transfer_submitted: { to: 'transferring', from: ['requested'] },
  // A webhook may overtake our own record of a submission; both are then recorded.
  transfer_completed: { to: 'transferred', from: ['requested', 'transferring'] },
  transfer_failed: { to: 'failed', from: ['requested', 'transferring'] },
  payout_submitted: { to: 'paying_out', from: ['transferred'] },
  payout_completed: { to: 'completed', from: ['transferred', 'paying_out'] },
  payout_failed: { to: 'compensation_due', from: ['transferred', 'paying_out'] },
  compensation_submitted: { to: 'compensating', from: ['compensation_due'] },
  compensation_completed: { to: 'failed', from: ['compensation_due', 'compensating'] },
  // Only the transfer back now under way: one that failed before is a repeat, any other is refused.
  compensation_failed: { to: 'compensation_due', from: ['compensating'] },
}

/**
 * Completion debits the reservation; failure (before step 1 completed, or after the compensating
 * transfer came back) releases it. A repeated outcome appends nothing; one that contradicts a
 * terminal state is refused.
 */
function decide(command: RecordRedeemOutcome, state: State): Decision<Events> {
  const { redeemId, outcome } = command
  const s = state.redeem
  requireExisting(s.status, 'redeem', redeemId)
  const move = moves[outcome.type]
  const stale = outcome.type === 'compensation_failed' && s.compensationTransferId !== outcome.circleTransferId
  if (!move.from.includes(s.phase) || stale) {
    if (isRepeat(s, outcome)) return { redeem: [] }
    const code = s.status === 'completed' || s.status === 'failed' ? 'outcome_conflict' : 'invalid_transition'
    throw new DomainError(code, `redeem ${redeemId} is ${s.phase}; ${outcome.type} does not apply`)
  }
  const walletId = s.walletId
  const amount = encodeMicros(s.amount)
  // Wallet events go in the same atomic append as the redeem's terminal event, so a redeem that is
  // not terminal yet still holds its reservation.
  const release = (): WalletEvent[] => [{ type: 'ReservationReleased', data: { walletId, operationId: redeemId, amount } }]
  switch (outcome.type) {
    case 'transfer_submitted':
      return { redeem: [{ type: 'RedeemTransferSubmitted', data: { redeemId, circleTransferId: outcome.circleTransferId } }] }
    case 'transfer_completed': {
      const circleTransferId = outcome.circleTransferId
      const submitted: RedeemEvent[] = s.phase === 'requested' ? [{ type: 'RedeemTransferSubmitted', data: { redeemId, circleTransferId } }] : []
      return { redeem: [...submitted, { type: 'RedeemTransferCompleted', data: { redeemId, circleTransferId } }] }
    }
    case 'transfer_failed':
      return { redeem: [{ type: 'RedeemFailed', data: { redeemId, failure: outcome.failure, compensated: false } }], wallet: release() }
    case 'payout_submitted':
      return { redeem: [{ type: 'RedeemPayoutSubmitted', data: { redeemId, circlePayoutId: outcome.circlePayoutId } }] }
    case 'payout_completed': {
      const circlePayoutId = outcome.circlePayoutId
      const submitted: RedeemEvent[] = s.phase === 'transferred' ? [{ type: 'RedeemPayoutSubmitted', data: { redeemId, circlePayoutId } }] : []
      return {
        redeem: [...submitted, { type: 'RedeemCompleted', data: { redeemId, circlePayoutId } }],
        wallet: [{ type: 'FundsDebited', data: { walletId, operationId: redeemId, amount } }],
      }
    }
    case 'payout_failed':
      return { redeem: [{ type: 'RedeemPayoutFailed', data: { redeemId, failure: outcome.failure } }] }
    case 'compensation_submitted':
      return { redeem: [{ type: 'RedeemCompensationSubmitted', data: { redeemId, circleTransferId: outcome.circleTransferId } }] }
    case 'compensation_failed':
      return { redeem: [{ type: 'RedeemCompensationFailed', data: { redeemId, circleTransferId: outcome.circleTransferId, failure: outcome.failure } }] }
    case 'compensation_completed': {
      const circleTransferId = outcome.circleTransferId
      const submitted: RedeemEvent[] =
        s.phase === 'compensation_due' ? [{ type: 'RedeemCompensationSubmitted', data: { redeemId, circleTransferId } }] : []
      const failed: RedeemEvent = {
        type: 'RedeemFailed',
        data: { redeemId, failure: s.failure ?? { code: 'payout_failed', message: 'the payout failed' }, compensated: true },
      }
      return { redeem: [...submitted, failed], wallet: release() }
    }
  }
}

/** True when the outcome is already part of the redeem's history (a duplicate or late report). */
function isRepeat(s: RedeemState, outcome: Outcome): boolean {
  switch (outcome.type) {
    case 'transfer_submitted':
      return s.circleTransferId === outcome.circleTransferId
    case 'transfer_completed':
      return s.transferCompleted && s.circleTransferId === outcome.circleTransferId
    case 'transfer_failed':
      return s.phase === 'failed' && !s.transferCompleted
    case 'payout_submitted':
      return s.circlePayoutId === outcome.circlePayoutId
    case 'payout_completed':
      return s.phase === 'completed' && s.circlePayoutId === outcome.circlePayoutId
    case 'payout_failed':
      return s.phase === 'compensation_due' || s.phase === 'compensating' || (s.phase === 'failed' && s.transferCompleted)
    case 'compensation_failed':
      return s.failedCompensations?.includes(outcome.circleTransferId) ?? false
    case 'compensation_submitted':
    case 'compensation_completed':
      return s.compensationTransferId === outcome.circleTransferId && (outcome.type === 'compensation_submitted' || s.phase === 'failed')
  }
}

export const recordRedeemOutcome: Decider<RecordRedeemOutcome, State, Events> = {
  schema,
  streams: (c) => ({ redeem: { type: redeem, id: c.redeemId } }),
  related: (_c, s) => ({ wallet: s.redeem?.walletId ? { type: wallet, id: s.redeem.walletId } : null }),
  decide,
  correlationId: (c) => c.redeemId,
}
