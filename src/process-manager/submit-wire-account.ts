import { CircleError, type CirclePort, type WireAccountDetails } from '../adapters/circle/port.ts'
import type { CommandMetadata } from '../commands/handler.ts'
import { circleKey } from '../commands/ids.ts'
import { recordBankAccountOutcome, type RecordBankAccountOutcome } from '../commands/record-bank-account-outcome.ts'
import { bankAccount } from '../events/bank-account.ts'
import { fold } from '../events/fold.ts'
import { failureOf, isRefusal, record, type Recorder } from './context.ts'

/** Circle could not take the wire account now (down, or refusing our own key); nothing was failed, the client retries. */
export class CircleUnavailable extends Error {
  override name = 'CircleUnavailable'
}

export interface WireSubmission extends Recorder {
  circle: Pick<CirclePort, 'createWireAccount'>
  /** The outcome events' metadata: they belong to the request that carried the account numbers. */
  metadata: (commandId: string) => CommandMetadata
}

/**
 * Sends a linked bank account's numbers to Circle and records what Circle answered, when the
 * stream still waits for them. The numbers exist only in the request that links the account
 * (events keep the last 4 digits), so this runs inside that request, never from a task: a client
 * retry with the same Idempotency-Key sends them again, under a Circle key derived from the bank
 * account id, and binds to the same Circle account.
 */
export async function submitWireAccount(ctx: WireSubmission, bankAccountId: string, details: WireAccountDetails): Promise<void> {
  // Whether Circle still needs the account is a write-side question: the stream's own state decides.
  const { state } = await fold(ctx.store, bankAccount, bankAccountId)
  if (state.status !== 'pending' || state.circleWireId !== undefined) return
  const stream = bankAccount.streamName(bankAccountId)
  for (const outcome of await askCircle(ctx.circle, bankAccountId, details)) {
    await record(ctx, recordBankAccountOutcome, { bankAccountId, outcome }, stream, outcome.type)
  }
}

async function askCircle(circle: WireSubmission['circle'], bankAccountId: string, details: WireAccountDetails): Promise<RecordBankAccountOutcome['outcome'][]> {
  try {
    const wire = await circle.createWireAccount({ idempotencyKey: circleKey(bankAccountId, 'link'), details })
    const submitted = { type: 'submitted' as const, circleWireId: wire.id }
    if (wire.status === 'complete') return [submitted, { type: 'linked', circleWireId: wire.id }]
    if (wire.status === 'failed') return [submitted, { type: 'failed', failure: { code: 'circle_wire_failed', message: 'Circle refused the wire account' } }]
    return [submitted]
  } catch (err) {
    if (isRefusal(err)) return [{ type: 'failed', failure: failureOf(err) }]
    // Our own key refused (401/403) is an operator problem, not the client's: nothing is failed, the client retries.
    const why = err instanceof CircleError && err.operator ? 'Circle refused the service’s credentials' : 'Circle did not answer'
    throw new CircleUnavailable(`${why}; retry with the same Idempotency-Key`, { cause: err })
  }
}
