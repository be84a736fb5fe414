import { circleKey } from '../../commands/ids.ts'
import { fold } from '../../events/fold.ts'
import { compensationFailedName, recordRedeemOutcome, type RecordRedeemOutcome } from '../../commands/record-redeem-outcome.ts'
import type { CirclePayout, CircleTransfer } from '../../adapters/circle/port.ts'
import { redeem, type RedeemState } from '../../events/redeem.ts'
import { circleWalletOf, circleWireOf } from './circle-ids.ts'
import { done, failureOf, isRefusal, poll, record, type Step, type StepContext } from '../context.ts'

type Outcome = RecordRedeemOutcome['outcome']

/**
 * Redeem, one Circle step per phase: (1) user wallet -> master wallet, (2) business payout to the
 * wire account; a payout failure after (1) sends the USDC back before the redeem fails.
 */
export const redeemStep: Step = async (ctx, redeemId) => {
  const { state } = await fold(ctx.store, redeem, redeemId)
  const save = (outcome: Outcome, name: string = outcome.type) => record(ctx, recordRedeemOutcome, { redeemId, outcome }, redeem.streamName(redeemId), name)

  switch (state.phase) {
    case 'requested': {
      try {
        const t = await ctx.circle.createTransfer({
          idempotencyKey: circleKey(redeemId, 'to-master'),
          sourceWalletId: await circleWalletOf(ctx, state.walletId),
          destination: { type: 'wallet', id: await ctx.circle.masterWalletId() },
          amount: state.amount,
        })
        await save({ type: 'transfer_submitted', circleTransferId: t.id })
        if (t.status === 'complete') await save({ type: 'transfer_completed', circleTransferId: t.id })
        if (t.status === 'failed') await save({ type: 'transfer_failed', failure: { code: t.errorCode ?? 'transfer_failed', message: 'Circle failed the transfer to the master wallet' } })
      } catch (err) {
        if (!isRefusal(err)) throw err
        await save({ type: 'transfer_failed', failure: failureOf(err) })
      }
      return again(ctx, redeemId)
    }
    case 'transferring':
      return (await settleRedeemTransfer(ctx, redeemId, await ctx.circle.getTransfer(state.circleTransferId))) ? again(ctx, redeemId) : poll(ctx)
    case 'transferred': {
      const wire = await circleWireOf(ctx, state.bankAccountId)
      try {
        const p = await ctx.circle.createPayout({ idempotencyKey: circleKey(redeemId, 'payout'), wireAccountId: wire, amount: state.amount })
        await save({ type: 'payout_submitted', circlePayoutId: p.id })
        if (p.status === 'complete') await save({ type: 'payout_completed', circlePayoutId: p.id })
        if (p.status === 'failed') await save(payoutFailed(p.errorCode))
      } catch (err) {
        if (!isRefusal(err)) throw err
        await save({ type: 'payout_failed', failure: failureOf(err) })
      }
      return again(ctx, redeemId)
    }
    case 'paying_out':
      return (await settleRedeemPayout(ctx, redeemId, await ctx.circle.getPayout(state.circlePayoutId))) ? again(ctx, redeemId) : poll(ctx)
    case 'compensation_due': {
      const failed = state.failedCompensations ?? []
      if (failed.length > 0 && !state.compensationReplayed) {
        // Counted as a failed attempt: the bounded retries make it a dead letter, flagged
        // compensation_failed, and an admin's replay sends the next transfer back.
        throw new Error(`compensation transfer ${failed.at(-1)} failed at Circle; the USDC is still in the master wallet; replay the dead letter once the cause is fixed to send a new transfer back`)
      }
      // A new Circle key and command id for each transfer back after a failed one: Circle makes a new
      // transfer, and its submission is recorded (the first one's command id would append nothing).
      const round = failed.length === 0 ? '' : `-${failed.length + 1}`
      const t = await ctx.circle.createTransfer({
        idempotencyKey: circleKey(redeemId, `compensation${round}`),
        sourceWalletId: await ctx.circle.masterWalletId(),
        destination: { type: 'wallet', id: await circleWalletOf(ctx, state.walletId) },
        amount: state.amount,
      })
      await save({ type: 'compensation_submitted', circleTransferId: t.id }, `compensation_submitted${round}`)
      return compensation(ctx, state, t.id, t.status)
    }
    case 'compensating': {
      const t = await ctx.circle.getTransfer(state.compensationTransferId)
      return compensation(ctx, state, t.id, t.status)
    }
    default:
      return done
  }
}

const saver = (ctx: StepContext, redeemId: string) => (outcome: Outcome) => record(ctx, recordRedeemOutcome, { redeemId, outcome }, redeem.streamName(redeemId), outcome.type)

/** Records the step-1 transfer once Circle settled it; false while it is still pending. */
export async function settleRedeemTransfer(ctx: StepContext, redeemId: string, t: CircleTransfer): Promise<boolean> {
  const save = saver(ctx, redeemId)
  if (t.status === 'complete') await save({ type: 'transfer_completed', circleTransferId: t.id })
  else if (t.status === 'failed') await save({ type: 'transfer_failed', failure: { code: t.errorCode ?? 'transfer_failed', message: 'Circle failed the transfer to the master wallet' } })
  else return false
  return true
}

/** Records the payout once Circle settled it; false while it is still pending. */
export async function settleRedeemPayout(ctx: StepContext, redeemId: string, p: CirclePayout): Promise<boolean> {
  const save = saver(ctx, redeemId)
  if (p.status === 'complete') await save({ type: 'payout_completed', circlePayoutId: p.id })
  else if (p.status === 'failed') await save(payoutFailed(p.errorCode))
  else return false
  return true
}

const payoutFailed = (errorCode: string | undefined): Outcome => ({
  type: 'payout_failed',
  failure: { code: errorCode ?? 'payout_failed', message: 'Circle failed the wire payout' },
})

/** After a recorded step the next phase may be actionable at once. */
const again = async (ctx: StepContext, redeemId: string) => redeemStep(ctx, redeemId)

/** Records the transfer back once Circle settled it; a pending one is polled again. */
export async function compensation(ctx: StepContext, state: Extract<RedeemState, { phase: 'compensation_due' | 'compensating' }>, transferId: string, status: string) {
  const { redeemId } = state
  if (status === 'complete') {
    await record(ctx, recordRedeemOutcome, { redeemId, outcome: { type: 'compensation_completed', circleTransferId: transferId } }, redeem.streamName(redeemId), 'compensation_completed')
    return done
  }
  if (status === 'failed') {
    // The USDC sits in the master wallet and the transfer back failed: recorded, then counted as a
    // failed attempt, so the bounded retries turn it into a dead letter with the redeem flagged
    // compensation_failed; replaying it sends a new transfer back.
    const outcome: Outcome = { type: 'compensation_failed', circleTransferId: transferId, failure: { code: 'compensation_failed', message: 'Circle failed the transfer back to the wallet' } }
    await record(ctx, recordRedeemOutcome, { redeemId, outcome }, redeem.streamName(redeemId), compensationFailedName(transferId))
    ctx.logger.error({ redeemId, transferId }, 'redeem compensation transfer failed; funds remain in the master wallet')
    throw new Error(`compensation transfer ${transferId} failed at Circle; the USDC is still in the master wallet`)
  }
  return poll(ctx)
}
