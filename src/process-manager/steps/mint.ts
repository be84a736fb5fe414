import { circleKey } from '../../commands/ids.ts'
import { fold } from '../../events/fold.ts'
import { recordMintOutcome } from '../../commands/record-mint-outcome.ts'
import { mint } from '../../events/mint.ts'
import { formatAmount } from '../../events/money.ts'
import type { CircleTransfer } from '../../adapters/circle/port.ts'
import { circleWalletOf } from './circle-ids.ts'
import { done, failureOf, isRefusal, poll, record, type Step, type StepContext } from '../context.ts'

/**
 * Mint: check the treasury (recorded), transfer master wallet -> user wallet at Circle, then
 * follow the transfer until it settles.
 */
export const mintStep: Step = async (ctx, mintId) => {
  const stream = mint.streamName(mintId)
  const { state } = await fold(ctx.store, mint, mintId)
  if (state.status === 'pending') {
    if (!state.treasuryChecked) {
      const available = await ctx.circle.treasuryBalance()
      if (available < state.amount) {
        const failure = { code: 'insufficient_treasury_balance', message: `treasury holds ${formatAmount(available)}, the mint needs ${formatAmount(state.amount)}` }
        await record(ctx, recordMintOutcome, { mintId, outcome: { type: 'failed', failure } }, stream, 'failed')
        return done
      }
      await record(ctx, recordMintOutcome, { mintId, outcome: { type: 'treasury_checked', treasuryAvailable: available } }, stream, 'treasury_checked')
    }
    let transfer: CircleTransfer
    try {
      transfer = await ctx.circle.createTransfer({
        idempotencyKey: circleKey(mintId, 'mint'),
        sourceWalletId: await ctx.circle.masterWalletId(),
        destination: { type: 'wallet', id: await circleWalletOf(ctx, state.walletId) },
        amount: state.amount,
      })
    } catch (err) {
      if (!isRefusal(err)) throw err
      await record(ctx, recordMintOutcome, { mintId, outcome: { type: 'failed', failure: failureOf(err) } }, stream, 'failed')
      return done
    }
    await record(ctx, recordMintOutcome, { mintId, outcome: { type: 'submitted', circleTransferId: transfer.id } }, stream, 'submitted')
    return settleMint(ctx, mintId, transfer)
  }
  if (state.status === 'processing') return settleMint(ctx, mintId, await ctx.circle.getTransfer(state.circleTransferId))
  return done
}

/** Records a settled mint transfer (complete or failed); a pending one is polled again. */
export async function settleMint(ctx: StepContext, mintId: string, transfer: CircleTransfer) {
  const stream = mint.streamName(mintId)
  if (transfer.status === 'complete') {
    await record(ctx, recordMintOutcome, { mintId, outcome: { type: 'completed', circleTransferId: transfer.id } }, stream, 'completed')
    return done
  }
  if (transfer.status === 'failed') {
    const failure = { code: transfer.errorCode ?? 'transfer_failed', message: 'Circle failed the transfer' }
    await record(ctx, recordMintOutcome, { mintId, outcome: { type: 'failed', failure } }, stream, 'failed')
    return done
  }
  return poll(ctx)
}
