import { z } from 'zod'
import { wallet, type WalletEvent, type WalletState } from '../events/wallet.ts'
import { DomainError } from './errors.ts'
import type { Decider, Decision } from './handler.ts'
import { failure, id, requireExisting } from './rules.ts'

export const schema = z.object({
  walletId: id,
  outcome: z.discriminatedUnion('type', [
    z.object({ type: z.literal('created'), circleWalletId: z.string().min(1).max(64) }),
    z.object({ type: z.literal('failed'), failure }),
  ]),
})
export type RecordWalletOutcome = z.infer<typeof schema>
type State = { wallet: WalletState }
type Events = { wallet: WalletEvent }

function decide(command: RecordWalletOutcome, state: State): Decision<Events> {
  const { walletId, outcome } = command
  requireExisting(state.wallet.status, 'wallet', walletId)
  const repeat =
    (state.wallet.status === 'active' && outcome.type === 'created' && outcome.circleWalletId === state.wallet.circleWalletId) ||
    (state.wallet.status === 'failed' && outcome.type === 'failed')
  if (repeat) return { wallet: [] }
  if (state.wallet.status !== 'pending') throw new DomainError('outcome_conflict', `wallet ${walletId} is already ${state.wallet.status}`)
  return outcome.type === 'created'
    ? { wallet: [{ type: 'WalletCreated', data: { walletId, circleWalletId: outcome.circleWalletId } }] }
    : { wallet: [{ type: 'WalletCreationFailed', data: { walletId, failure: outcome.failure } }] }
}

export const recordWalletOutcome: Decider<RecordWalletOutcome, State, Events> = {
  schema,
  streams: (c) => ({ wallet: { type: wallet, id: c.walletId } }),
  decide,
  correlationId: (c) => c.walletId,
}
