import { z } from 'zod'
import { mint, type MintEvent, type MintState } from '../events/mint.ts'
import { encodeMicros } from '../events/money.ts'
import { wallet, type WalletEvent, type WalletState } from '../events/wallet.ts'
import { DomainError } from './errors.ts'
import type { Decider, Decision } from './handler.ts'
import { failure, id, requireExisting } from './rules.ts'

const circleTransferId = z.string().min(1).max(64)
export const schema = z.object({
  mintId: id,
  outcome: z.discriminatedUnion('type', [
    z.object({ type: z.literal('treasury_checked'), treasuryAvailable: z.bigint().nonnegative() }),
    z.object({ type: z.literal('submitted'), circleTransferId }),
    z.object({ type: z.literal('completed'), circleTransferId }),
    z.object({ type: z.literal('failed'), failure }),
  ]),
})
export type RecordMintOutcome = z.infer<typeof schema>
/** The mint's wallet is read once the mint names it; only completion appends to it. */
type State = { mint: MintState; wallet?: WalletState }
type Events = { mint: MintEvent; wallet: WalletEvent }

/** Completion credits the wallet in the same append; a repeated outcome appends nothing. */
function decide(command: RecordMintOutcome, state: State): Decision<Events> {
  const { mintId, outcome } = command
  const s = state.mint
  requireExisting(s.status, 'mint', mintId)
  if ((outcome.type === 'submitted' || outcome.type === 'completed') && s.circleTransferId !== undefined && s.circleTransferId !== outcome.circleTransferId) {
    throw new DomainError('outcome_conflict', `mint ${mintId} is bound to Circle transfer ${s.circleTransferId}`)
  }
  const conflict = () => new DomainError('outcome_conflict', `mint ${mintId} is already ${s.status}`)
  switch (outcome.type) {
    case 'treasury_checked':
      if (s.status !== 'pending') throw new DomainError('invalid_transition', `mint ${mintId} is ${s.status}; the treasury check comes first`)
      if (s.treasuryChecked) return { mint: [] }
      return { mint: [{ type: 'MintTreasuryChecked', data: { mintId, treasuryAvailable: encodeMicros(outcome.treasuryAvailable) } }] }
    case 'submitted':
      if (s.status === 'failed') throw conflict()
      if (s.status !== 'pending') return { mint: [] }
      return { mint: [{ type: 'MintSubmitted', data: { mintId, circleTransferId: outcome.circleTransferId } }] }
    case 'completed': {
      if (s.status === 'completed') return { mint: [] }
      if (s.status === 'failed') throw conflict()
      // The credit is appended atomically with MintCompleted, so a mint not yet completed was never credited.
      const credit: WalletEvent[] = [{ type: 'FundsCredited', data: { walletId: s.walletId, operationId: mintId, amount: encodeMicros(s.amount), source: 'mint' } }]
      return { mint: [{ type: 'MintCompleted', data: { mintId, circleTransferId: outcome.circleTransferId } }], wallet: credit }
    }
    case 'failed':
      if (s.status === 'failed') return { mint: [] }
      if (s.status === 'completed') throw conflict()
      return { mint: [{ type: 'MintFailed', data: { mintId, failure: outcome.failure } }] }
  }
}

export const recordMintOutcome: Decider<RecordMintOutcome, State, Events> = {
  schema,
  streams: (c) => ({ mint: { type: mint, id: c.mintId } }),
  related: (_c, s) => ({ wallet: s.mint?.walletId ? { type: wallet, id: s.mint.walletId } : null }),
  decide,
  correlationId: (c) => c.mintId,
}
