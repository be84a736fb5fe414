import { z } from 'zod'
import { wallet, type WalletEvent, type WalletState } from '../events/wallet.ts'
import { isSupportedChain, SUPPORTED_CHAINS } from './chains.ts'
import { DomainError } from './errors.ts'
import type { Decider, Decision } from './handler.ts'
import { id, requireActiveWallet } from './rules.ts'

export const schema = z.object({
  walletId: id,
  addressId: id,
  chain: z.string().min(1).max(16),
  /** Configured ceiling on a wallet's addresses (failed ones do not count); each one is a Circle resource and a row in every wallet read. */
  maxAddresses: z.number().int().positive().optional(),
})
export type RequestDepositAddress = z.infer<typeof schema>
type State = { wallet: WalletState }
type Events = { wallet: WalletEvent }

function decide(command: RequestDepositAddress, state: State): Decision<Events> {
  requireActiveWallet(state.wallet, command.walletId)
  if (!isSupportedChain(command.chain)) {
    throw new DomainError('unsupported_chain', `chain ${command.chain} is not supported (supported: ${SUPPORTED_CHAINS.join(', ')})`)
  }
  if (state.wallet.addresses[command.addressId]) throw new DomainError('already_exists', `address ${command.addressId} already exists`)
  if (command.maxAddresses !== undefined) {
    const held = Object.values(state.wallet.addresses).filter((a) => a.status !== 'failed').length
    if (held >= command.maxAddresses) {
      throw new DomainError('deposit_address_limit', `wallet ${command.walletId} already has ${held} deposit addresses, the most allowed (${command.maxAddresses})`, { limit: String(command.maxAddresses) })
    }
  }
  return { wallet: [{ type: 'DepositAddressRequested', data: { walletId: command.walletId, addressId: command.addressId, chain: command.chain } }] }
}

export const requestDepositAddress: Decider<RequestDepositAddress, State, Events> = {
  schema,
  streams: (c) => ({ wallet: { type: wallet, id: c.walletId } }),
  decide,
  correlationId: (c) => c.addressId,
}
