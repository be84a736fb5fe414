import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { requestMint } from '../../commands/request-mint.ts'
import { isTerminal } from '../../events/event.ts'
import type { EventStore } from '../../events/event-store.ts'
import { mint, type MintState } from '../../events/mint.ts'
import { formatAmount } from '../../events/money.ts'
import { notFound } from '../errors.ts'
import { create, derivedId, money, read, waitIfAsked, type Resource } from '../operations.ts'
import { amount, commandErrors, readErrors, currency, errorBody, failure, id, idempotencyHeaders, idParams, operationStatus } from '../schemas.ts'

export const mintBody = z
  .object({
    id: z.uuid(),
    walletId: z.uuid(),
    amount: z.string().meta({ example: '10.50' }),
    currency,
    status: operationStatus,
    circleTransferId: z.string().optional(),
    failure: failure.optional(),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .meta({ id: 'Mint' })

export function toMint(id: string, r: Resource<MintState>): z.infer<typeof mintBody> {
  const s = r.state
  const body: z.infer<typeof mintBody> = {
    id,
    walletId: s.walletId!,
    amount: formatAmount(s.amount!),
    currency: 'USD',
    status: s.status === 'none' ? 'pending' : s.status,
    createdAt: r.createdAt,
    updatedAt: r.updatedAt,
  }
  if (s.circleTransferId !== undefined) body.circleTransferId = s.circleTransferId
  if (s.failure !== undefined) body.failure = s.failure
  return body
}

/** Mint (fiat -> USDC): Circle moves USDC from the treasury (master wallet) to the user's wallet. */
export const mintRoutes: FastifyPluginAsyncZod<{ store: EventStore; maxAmount: bigint }> = async (app, { store, maxAmount }) => {
  app.post(
    '/mint',
    {
      config: { roles: ['backend'], idempotent: true },
      schema: {
        tags: ['mint'],
        summary: 'Mint USDC into a wallet from the treasury',
        headers: idempotencyHeaders,
        body: z.strictObject({ walletId: id, amount, currency: currency.optional() }),
        response: { 202: mintBody, ...commandErrors },
      },
    },
    async (request, reply) => {
      const mintId = derivedId(request, 'mint')
      await create(store, requestMint, { mintId, walletId: request.body.walletId, amount: money(request.body.amount, maxAmount) }, request, mintId)
      const reread = () => read(store, mint, mintId)
      const resource = await waitIfAsked(request, (await reread())!, reread, (s) => isTerminal(s.status))
      return reply.code(202).header('location', `/mints/${mintId}`).send(toMint(mintId, resource))
    },
  )

  app.get(
    '/mints/:id',
    {
      config: { roles: ['backend', 'auditor'] },
      schema: { tags: ['mint'], summary: 'A mint and its status', params: idParams, response: { 200: mintBody, ...readErrors } },
    },
    async (request) => {
      const resource = await read(store, mint, request.params.id)
      if (!resource) throw notFound('mint', request.params.id)
      return toMint(request.params.id, resource)
    },
  )
}
