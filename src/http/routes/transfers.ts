import { z } from 'zod'
import { destinationSchema, requestTransfer, schema as transferCommand, type RequestTransfer } from '../../commands/request-transfer.ts'
import { isTerminal } from '../../events/event.ts'
import type { TransferState } from '../../events/transfer.ts'
import { transfers } from '../../projections/transfers.ts'
import { listOperations } from '../../projections/operation-list.ts'
import { operationRoutes } from '../command-resource-routes.ts'
import { create, money, operationView, stateOf, type Resource } from '../command-requests.ts'
import { amount, chain, currency, operationFields, operationFilters, operationStatus, type ErrorExample } from '../schemas.ts'

const [toWallet, toChain] = destinationSchema.options
const destination = z
  .discriminatedUnion('type', [
    toWallet.strict(),
    toChain.extend({ chain, address: toChain.shape.address.meta({ example: '4Nd1mBQtrMJVYVfKf2PJy9NZUZdTAsp7D4xWLs4gDB4T' }) }).strict(),
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
  .meta({
    id: 'Transfer',
    example: {
      id: 'f1e2d3c4-b5a6-4978-8a9b-0c1d2e3f4a5b',
      sourceWalletId: '3f0c6d2e-8a4b-4c1d-9e2f-5a6b7c8d9e0f',
      destination: { type: 'blockchain', chain: 'SOL', address: '4Nd1mBQtrMJVYVfKf2PJy9NZUZdTAsp7D4xWLs4gDB4T' },
      amount: '10.00',
      currency: 'USD',
      status: 'completed',
      circleTransferId: 'd4c3b2a1-f6e5-4b7a-9d8c-5f4e3d2c1b0a',
      txHash: '5VERv8NMvzbJMEkV8xnrLkEaWRtSz9CosKDYjCJjBRnbJLgp8uirBgmQpjKhoR4tjF3ZpRzrFmBV6UjKdiSZkQUW',
      createdAt: '2026-11-26T09:30:00.000Z',
      updatedAt: '2026-11-26T09:30:02.412Z',
    },
  })

export function toTransfer(id: string, r: Resource<TransferState>): z.infer<typeof transferBody> {
  const s = stateOf('transfer', id, r)
  return {
    id,
    sourceWalletId: s.sourceWalletId,
    destination: s.destination,
    ...operationView(s, r),
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
    body: transferCommand.pick({ sourceWalletId: true }).extend({ destination, amount, currency: currency.optional() }).strict(),
    response: transferBody,
    model: transfers,
    create: (store, request, body, transferId) => {
      const command: RequestTransfer = { transferId, sourceWalletId: body.sourceWalletId, destination: body.destination, amount: money(body.amount, maxAmount) }
      return create(store, requestTransfer, command, request, transferId)
    },
    toResponse: toTransfer,
    settled: (s) => isTerminal(s.status),
    rules: [
      ['insufficient_funds', 'wallet 3f0c6d2e-8a4b-4c1d-9e2f-5a6b7c8d9e0f has 4.00 available, 10.00 needed'],
      ['same_wallet', 'source and destination are the same wallet'],
      ['unsupported_chain', 'chain DOGE is not supported (supported: ETH, POLY, ARB, BASE, AVAX, OP, CELO, SOL, XLM, ALGO, TRX, HBAR, NEAR)'],
      ['invalid_address', '0x123 is not a valid ETH address'],
      ['wallet_not_found', 'wallet 3f0c6d2e-8a4b-4c1d-9e2f-5a6b7c8d9e0f does not exist'],
      ['wallet_not_active', 'wallet 3f0c6d2e-8a4b-4c1d-9e2f-5a6b7c8d9e0f is pending, not active'],
    ] satisfies ErrorExample[],
    list: { summary: 'Transfers, newest first (walletId: the source wallet; incoming transfers show in GET /wallets/{id}/operations)', filters: operationFilters(operationStatus), run: (db, filters, page) => listOperations(db, transfers, filters, page) },
  })
