import { fold } from '../../events/fold.ts'
import { recordBankAccountOutcome } from '../../commands/record-bank-account-outcome.ts'
import { bankAccount } from '../../events/bank-account.ts'
import type { CircleWireAccount } from '../../adapters/circle/port.ts'
import { done, poll, record, type Step, type StepContext } from '../context.ts'
import type { Outcome } from '../tasks.ts'

/**
 * A submitted wire account is linked once Circle completes it. One never submitted cannot be sent
 * from here: its numbers exist only in the API request (submitWireAccount), which a client retry (same
 * Idempotency-Key) re-sends. Once that key has expired no retry can come, so the account fails
 * with `submission_abandoned` instead of staying pending for ever.
 */
export const bankAccountStep: Step = async (ctx, bankAccountId) => {
  const { state } = await fold(ctx.store, bankAccount, bankAccountId)
  const stream = bankAccount.streamName(bankAccountId)
  if (state.status !== 'pending') return done
  if (state.circleWireId === undefined) {
    const [requested] = await ctx.store.readStream(stream, { maxCount: 1 })
    if (requested === undefined) throw new Error(`bank account ${bankAccountId} is pending but its stream is empty`)
    const abandonAt = Date.parse(requested.recordedAt) + ctx.submissionAbandonMs
    if (Date.now() < abandonAt) return { next: 'poll', inMs: abandonAt - Date.now() }
    const hours = Math.round(ctx.submissionAbandonMs / 360_000) / 10
    const failure = { code: 'submission_abandoned', message: `Circle never received this account and no retry came within ${hours} h; link it again with a new Idempotency-Key` }
    await record(ctx, recordBankAccountOutcome, { bankAccountId, outcome: { type: 'failed', failure } }, stream, 'abandoned')
    return done
  }
  return settleWire(ctx, bankAccountId, await ctx.circle.getWireAccount(state.circleWireId))
}

/** Records a wire account Circle completed or failed; a pending one is polled again. */
export async function settleWire(ctx: StepContext, bankAccountId: string, wire: CircleWireAccount): Promise<Outcome> {
  const stream = bankAccount.streamName(bankAccountId)
  if (wire.status === 'complete') {
    await record(ctx, recordBankAccountOutcome, { bankAccountId, outcome: { type: 'linked', circleWireId: wire.id } }, stream, 'linked')
    return done
  }
  if (wire.status === 'failed') {
    await record(ctx, recordBankAccountOutcome, { bankAccountId, outcome: { type: 'failed', failure: { code: 'circle_wire_failed', message: 'Circle did not accept the wire account' } } }, stream, 'failed')
    return done
  }
  return poll(ctx)
}
