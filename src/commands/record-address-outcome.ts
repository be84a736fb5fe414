import { z } from 'zod'
import { wallet, type DepositAddressCreated, type WalletEvent, type WalletState } from '../events/wallet.ts'
import { DomainError } from './errors.ts'
import type { Decider, Decision } from './handler.ts'
import { failure, id, requireExisting } from './rules.ts'

export const schema = z.object({
  walletId: id,
  addressId: id,
  outcome: z.discriminatedUnion('type', [
    z.object({ type: z.literal('created'), address: z.string().min(1).max(128), addressTag: z.string().min(1).max(128).optional() }),
    z.object({ type: z.literal('failed'), failure }),
  ]),
})
export type RecordAddressOutcome = z.infer<typeof schema>
type State = { wallet: WalletState }
type Events = { wallet: WalletEvent }

function decide(command: RecordAddressOutcome, state: State): Decision<Events> {
  const { walletId, addressId, outcome } = command
  requireExisting(state.wallet.status, 'wallet', walletId)
  const current = state.wallet.addresses[addressId]
  if (!current) throw new DomainError('not_found', `address ${addressId} not found on wallet ${walletId}`)
  const repeat =
    (current.status === 'active' && outcome.type === 'created' && outcome.address === current.address) ||
    (current.status === 'failed' && outcome.type === 'failed')
  if (repeat) return { wallet: [] }
  if (current.status !== 'pending') throw new DomainError('outcome_conflict', `address ${addressId} is already ${current.status}`)
  if (outcome.type === 'failed') {
    return { wallet: [{ type: 'DepositAddressFailed', data: { walletId, addressId, chain: current.chain, failure: outcome.failure } }] }
  }
  const data: DepositAddressCreated['data'] = { walletId, addressId, chain: current.chain, address: outcome.address }
  if (outcome.addressTag !== undefined) data.addressTag = outcome.addressTag
  return { wallet: [{ type: 'DepositAddressCreated', data }] }
}

export const recordAddressOutcome: Decider<RecordAddressOutcome, State, Events> = {
  schema,
  streams: (c) => ({ wallet: { type: wallet, id: c.walletId } }),
  decide,
  correlationId: (c) => c.addressId,
}
