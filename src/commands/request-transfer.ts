import { z } from 'zod'
import { encodeMicros } from '../events/money.ts'
import { transfer, type TransferDestination, type TransferEvent, type TransferState } from '../events/transfer.ts'
import { wallet, type WalletEvent, type WalletState } from '../events/wallet.ts'
import { isSupportedChain, isValidAddress, SUPPORTED_CHAINS, TAGGED_CHAINS } from './chains.ts'
import { DomainError } from './errors.ts'
import type { Decider, Decision } from './handler.ts'
import { amount, id, requireActiveWallet, requireFunds, requireNew } from './rules.ts'

export const destinationSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('wallet'), walletId: id }),
  z.object({
    type: z.literal('blockchain'),
    chain: z.string().min(1).max(16),
    address: z.string().min(1).max(128),
    addressTag: z.string().min(1).max(128).optional(),
  }),
])
export const schema = z.object({ transferId: id, sourceWalletId: id, destination: destinationSchema, amount })
export type RequestTransfer = z.infer<typeof schema>
/** `destination` is read only when the destination is one of our wallets. */
type State = { transfer: TransferState; source: WalletState; destination?: WalletState }
type Events = { transfer: TransferEvent; source: WalletEvent; destination: WalletEvent }

/** Reserves the amount on the source wallet in the same atomic append that opens the transfer. */
function decide(command: RequestTransfer, state: State): Decision<Events> {
  requireNew(state.transfer.status, 'transfer', command.transferId)
  requireActiveWallet(state.source, command.sourceWalletId)
  const destination = checkDestination(command, state.destination)
  requireFunds(state.source, command.sourceWalletId, command.amount)
  const amountMicros = encodeMicros(command.amount)
  return {
    transfer: [{ type: 'TransferRequested', data: { transferId: command.transferId, sourceWalletId: command.sourceWalletId, destination, amount: amountMicros } }],
    source: [{ type: 'FundsReserved', data: { walletId: command.sourceWalletId, operationId: command.transferId, amount: amountMicros } }],
  }
}

function checkDestination(command: RequestTransfer, destinationWallet: WalletState | undefined): TransferDestination {
  const d = command.destination
  if (d.type === 'wallet') {
    if (d.walletId === command.sourceWalletId) throw new DomainError('same_wallet', 'source and destination are the same wallet')
    if (!destinationWallet) throw new Error(`destination wallet ${d.walletId} was not read`)
    requireActiveWallet(destinationWallet, d.walletId)
    return { type: 'wallet', walletId: d.walletId }
  }
  if (!isSupportedChain(d.chain)) throw new DomainError('unsupported_chain', `chain ${d.chain} is not supported (supported: ${SUPPORTED_CHAINS.join(', ')})`)
  if (!isValidAddress(d.chain, d.address)) throw new DomainError('invalid_address', `${d.address.slice(0, 128)} is not a valid ${d.chain} address`)
  if (d.addressTag !== undefined && !TAGGED_CHAINS.includes(d.chain)) {
    throw new DomainError('invalid_address', `chain ${d.chain} takes no address tag`)
  }
  const out: TransferDestination = { type: 'blockchain', chain: d.chain, address: d.address }
  if (d.addressTag !== undefined) out.addressTag = d.addressTag
  return out
}

export const requestTransfer: Decider<RequestTransfer, State, Events> = {
  schema,
  streams: (c) => ({
    transfer: { type: transfer, id: c.transferId },
    source: { type: wallet, id: c.sourceWalletId },
    destination: c.destination.type === 'wallet' ? { type: wallet, id: c.destination.walletId } : null,
  }),
  decide,
  correlationId: (c) => c.transferId,
}
