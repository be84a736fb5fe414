import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { requestTransfer, type RequestTransfer } from '../../commands/request-transfer.ts'
import { isTerminal } from '../../events/event.ts'
import type { EventStore } from '../../events/event-store.ts'
import { formatAmount } from '../../events/money.ts'
import { transfer, type TransferState } from '../../events/transfer.ts'
import { notFound } from '../errors.ts'
import { create, derivedId, money, read, waitIfAsked, type Resource } from '../operations.ts'
import { amount, chain, commandErrors, readErrors, currency, errorBody, failure, id, idempotencyHeaders, idParams, operationStatus } from '../schemas.ts'

const destination = z
  .discriminatedUnion('type', [
    z.strictObject({ type: z.literal('wallet'), walletId: id }),
    z.strictObject({
      type: z.literal('blockchain'),
      chain,
      address: z.string().min(1).max(128).meta({ example: '4Nd1mBQtrMJVYVfKf2PJy9NZUZdTAsp7D4xWLs4gDB4T' }),
      addressTag: z.string().min(1).max(128).optional(),
    }),
  ])
  .meta({ id: 'TransferDestination' })

export const transferBody = z
  .object({
    id: z.uuid(),
    sourceWalletId: z.uuid(),
    destination,
    amount: z.string().meta({ example: '10.00' }),
    currency,
    status: operationStatus,
    circleTransferId: z.string().optional(),
    txHash: z.string().optional(),
    failure: failure.optional(),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .meta({ id: 'Transfer' })

export function toTransfer(id: string, r: Resource<TransferState>): z.infer<typeof transferBody> {
  const s = r.state
  const body: z.infer<typeof transferBody> = {
    id,
    sourceWalletId: s.sourceWalletId!,
    destination: s.destination!,
    amount: formatAmount(s.amount!),
    currency: 'USD',
    status: s.status === 'none' ? 'pending' : s.status,
    createdAt: r.createdAt,
    updatedAt: r.updatedAt,
  }
  if (s.circleTransferId !== undefined) body.circleTransferId = s.circleTransferId
  if (s.txHash !== undefined) body.txHash = s.txHash
  if (s.failure !== undefined) body.failure = s.failure
  return body
}

/** USDC transfers to one of our wallets (off-chain at Circle) or to a blockchain address. */
export const transferRoutes: FastifyPluginAsyncZod<{ store: EventStore; maxAmount: bigint }> = async (app, { store, maxAmount }) => {
  app.post(
    '/transfers',
    {
      config: { roles: ['backend'], idempotent: true },
      schema: {
        tags: ['transfers'],
        summary: 'Transfer USDC to a wallet or a blockchain address',
        headers: idempotencyHeaders,
        body: z.strictObject({ sourceWalletId: id, destination, amount, currency: currency.optional() }),
        response: { 202: transferBody, ...commandErrors },
      },
    },
    async (request, reply) => {
      const transferId = derivedId(request, 'transfer')
      const command: RequestTransfer = {
        transferId,
        sourceWalletId: request.body.sourceWalletId,
        destination: request.body.destination,
        amount: money(request.body.amount, maxAmount),
      }
      await create(store, requestTransfer, command, request, transferId)
      const reread = () => read(store, transfer, transferId)
      const resource = await waitIfAsked(request, (await reread())!, reread, (s) => isTerminal(s.status))
      return reply.code(202).header('location', `/transfers/${transferId}`).send(toTransfer(transferId, resource))
    },
  )

  app.get(
    '/transfers/:id',
    {
      config: { roles: ['backend', 'auditor'] },
      schema: { tags: ['transfers'], summary: 'A transfer and its status', params: idParams, response: { 200: transferBody, ...readErrors } },
    },
    async (request) => {
      const resource = await read(store, transfer, request.params.id)
      if (!resource) throw notFound('transfer', request.params.id)
      return toTransfer(request.params.id, resource)
    },
  )
}
