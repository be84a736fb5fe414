import { circleKey } from '../../commands/ids.ts'
import { fold } from '../../events/fold.ts'
import { recordTransferOutcome } from '../../commands/record-transfer-outcome.ts'
import { transfer } from '../../events/transfer.ts'
import type { CircleDestination, CircleTransfer } from '../../adapters/circle/port.ts'
import { circleWalletOf } from './circle-ids.ts'
import { done, failureOf, isRefusal, poll, record, type Step, type StepContext } from '../context.ts'

/** Transfer: send from the source wallet to our wallet or a blockchain address, then follow it. */
export const transferStep: Step = async (ctx, transferId) => {
  const stream = transfer.streamName(transferId)
  const { state } = await fold(ctx.store, transfer, transferId)
  if (state.status === 'pending') {
    const d = state.destination
    const destination: CircleDestination =
      d.type === 'wallet'
        ? { type: 'wallet', id: await circleWalletOf(ctx, d.walletId) }
        : { type: 'blockchain', chain: d.chain, address: d.address, ...(d.addressTag === undefined ? {} : { addressTag: d.addressTag }) }
    let sent: CircleTransfer
    try {
      sent = await ctx.circle.createTransfer({ idempotencyKey: circleKey(transferId, 'transfer'), sourceWalletId: await circleWalletOf(ctx, state.sourceWalletId), destination, amount: state.amount })
    } catch (err) {
      if (!isRefusal(err)) throw err
      await record(ctx, recordTransferOutcome, { transferId, outcome: { type: 'failed', failure: failureOf(err) } }, stream, 'failed')
      return done
    }
    await record(ctx, recordTransferOutcome, { transferId, outcome: { type: 'submitted', circleTransferId: sent.id } }, stream, 'submitted')
    return settleTransfer(ctx, transferId, sent)
  }
  if (state.status === 'processing') return settleTransfer(ctx, transferId, await ctx.circle.getTransfer(state.circleTransferId))
  return done
}

/** Records a settled transfer (complete or failed); a pending one is polled again. */
export async function settleTransfer(ctx: StepContext, transferId: string, t: CircleTransfer) {
  const stream = transfer.streamName(transferId)
  if (t.status === 'complete') {
    const outcome = t.txHash === undefined ? { type: 'completed' as const, circleTransferId: t.id } : { type: 'completed' as const, circleTransferId: t.id, txHash: t.txHash }
    await record(ctx, recordTransferOutcome, { transferId, outcome }, stream, 'completed')
    return done
  }
  if (t.status === 'failed') {
    await record(ctx, recordTransferOutcome, { transferId, outcome: { type: 'failed', failure: { code: t.errorCode ?? 'transfer_failed', message: 'Circle failed the transfer' } } }, stream, 'failed')
    return done
  }
  return poll(ctx)
}
