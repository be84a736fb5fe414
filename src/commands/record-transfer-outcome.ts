import { z } from 'zod'
import { encodeMicros } from '../events/money.ts'
import { transfer, type TransferCompleted, type TransferEvent, type TransferState } from '../events/transfer.ts'
import { wallet, type WalletEvent, type WalletState } from '../events/wallet.ts'
import { DomainError } from './errors.ts'
import type { Decider, Decision } from './handler.ts'
import { failure, id, requireExisting } from './rules.ts'

const circleTransferId = z.string().min(1).max(64)
export const schema = z.object({
  transferId: id,
  outcome: z.discriminatedUnion('type', [
    z.object({ type: z.literal('submitted'), circleTransferId }),
    z.object({ type: z.literal('completed'), circleTransferId, txHash: z.string().min(1).max(256).optional() }),
    z.object({ type: z.literal('failed'), failure }),
  ]),
})
export type RecordTransferOutcome = z.infer<typeof schema>
/** The wallets are read once the transfer names them (the destination only when it is one of ours). */
type State = { transfer: TransferState; source?: WalletState; destination?: WalletState }
type Events = { transfer: TransferEvent; source: WalletEvent; destination: WalletEvent }

/**
 * Completion debits the source's reservation and, for one of our wallets, credits the destination,
 * all in one append; failure releases the reservation. Repeats append nothing.
 */
function decide(command: RecordTransferOutcome, state: State): Decision<Events> {
  const { transferId, outcome } = command
  const s = state.transfer
  requireExisting(s.status, 'transfer', transferId)
  if (outcome.type !== 'failed' && s.circleTransferId !== undefined && s.circleTransferId !== outcome.circleTransferId) {
    throw new DomainError('outcome_conflict', `transfer ${transferId} is bound to Circle transfer ${s.circleTransferId}`)
  }
  const conflict = () => new DomainError('outcome_conflict', `transfer ${transferId} is already ${s.status}`)
  const amount = encodeMicros(s.amount)
  const sourceWalletId = s.sourceWalletId
  switch (outcome.type) {
    case 'submitted':
      if (s.status === 'failed') throw conflict()
      if (s.status !== 'pending') return { transfer: [] }
      return { transfer: [{ type: 'TransferSubmitted', data: { transferId, circleTransferId: outcome.circleTransferId } }] }
    case 'completed': {
      if (s.status === 'completed') return { transfer: [] }
      if (s.status === 'failed') throw conflict()
      const data: TransferCompleted['data'] = { transferId, circleTransferId: outcome.circleTransferId }
      if (outcome.txHash !== undefined) data.txHash = outcome.txHash
      // Wallet events are appended atomically with the transfer's terminal event: a transfer not yet
      // terminal has neither debited nor credited.
      const destination: WalletEvent[] =
        s.destination.type === 'wallet'
          ? [{ type: 'FundsCredited', data: { walletId: s.destination.walletId, operationId: transferId, amount, source: 'transfer' } }]
          : []
      const source: WalletEvent[] = [{ type: 'FundsDebited', data: { walletId: sourceWalletId, operationId: transferId, amount } }]
      return { transfer: [{ type: 'TransferCompleted', data }], source, destination }
    }
    case 'failed':
      if (s.status === 'failed') return { transfer: [] }
      if (s.status === 'completed') throw conflict()
      return {
        transfer: [{ type: 'TransferFailed', data: { transferId, failure: outcome.failure } }],
        source: [{ type: 'ReservationReleased', data: { walletId: sourceWalletId, operationId: transferId, amount } }],
      }
  }
}

export const recordTransferOutcome: Decider<RecordTransferOutcome, State, Events> = {
  schema,
  streams: (c) => ({ transfer: { type: transfer, id: c.transferId } }),
  related: (_c, s) => ({
    source: s.transfer?.sourceWalletId ? { type: wallet, id: s.transfer.sourceWalletId } : null,
    destination: s.transfer?.destination?.type === 'wallet' ? { type: wallet, id: s.transfer.destination.walletId } : null,
  }),
  decide,
  correlationId: (c) => c.transferId,
}
