import { fold } from '../../events/fold.ts'
import { recordBankAccountOutcome } from '../../commands/record-bank-account-outcome.ts'
import { bankAccount } from '../../events/bank-account.ts'
import { done, poll, record, type Step } from '../context.ts'

/**
 * A submitted wire account is linked once Circle completes it. One never submitted is left alone:
 * its numbers exist only in the API request, which a client retry (same Idempotency-Key) re-sends.
 */
export const bankAccountStep: Step = async (ctx, bankAccountId) => {
  const { state } = await fold(ctx.store, bankAccount, bankAccountId)
  if (state.status !== 'pending' || state.circleWireId === undefined) return done
  const wire = await ctx.circle.getWireAccount(state.circleWireId)
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
