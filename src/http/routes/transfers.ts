import { z } from 'zod'
import { requestTransfer, type RequestTransfer } from '../../commands/request-transfer.ts'
import { isTerminal } from '../../events/event.ts'
import { transfer, type TransferState } from '../../events/transfer.ts'
import { operationRoutes } from '../operation-routes.ts'
import { create, money, operationView, type Resource } from '../operations.ts'
import { amount, chain, currency, id, operationFields } from '../schemas.ts'

const destination = z
  .discriminatedUnion('type', [
    z.strictObject({ type: z.literal('wallet'), walletId: id }),
    z.strictObject({
      type: z.literal('blockchain'),
      chain,
      address: z.string().min(1).max(128).meta({ example: '4Nd1mBQtrMJVYVfKf2PJy9NZUZdTAsp7D4xWLs4gDB4T' }),
      addressTag: z.string().min(1).max(128).optional(),
    }),
  ], { error: 'type must be "wallet" (one of our wallets) or "blockchain" (an address on a chain)' })
  .meta({ id: 'TransferDestination' })

export const transferBody = z
  .object({
    id: z.uuid(),
    sourceWalletId: z.uuid(),
    destination,
    ...operationFields,
    circleTransferId: z.string().optional(),
    txHash: z.string().optional(),
  })
  .meta({ id: 'Transfer' })

export function toTransfer(id: string, r: Resource<TransferState>): z.infer<typeof transferBody> {
  const s = r.state
  return {
    id,
    sourceWalletId: s.sourceWalletId!,
    destination: s.destination!,
    ...operationView(r),
    ...(s.circleTransferId === undefined ? {} : { circleTransferId: s.circleTransferId }),
    ...(s.txHash === undefined ? {} : { txHash: s.txHash }),
  }
}

/** USDC transfers to one of our wallets (off-chain at Circle) or to a blockchain address. */
export const transferRoutes = (maxAmount: bigint) =>
  operationRoutes({
    tag: 'transfers',
    name: 'transfer',
    createPath: '/transfers',
    readPath: '/transfers',
    summaries: { create: 'Transfer USDC to a wallet or a blockchain address', read: 'A transfer and its status' },
    body: z.strictObject({ sourceWalletId: id, destination, amount, currency: currency.optional() }),
    response: transferBody,
    type: transfer,
    create: (store, request, body, transferId) => {
      const command: RequestTransfer = { transferId, sourceWalletId: body.sourceWalletId, destination: body.destination, amount: money(body.amount, maxAmount) }
      return create(store, requestTransfer, command, request, transferId)
    },
    toResponse: toTransfer,
    settled: (s) => isTerminal(s.status),
  })
