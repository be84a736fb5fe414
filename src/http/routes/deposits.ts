import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { z } from 'zod'
import type { DepositState } from '../../events/deposit.ts'
import { formatAmount } from '../../events/money.ts'
import { deposits } from '../../projections/deposits.ts'
import { readDocument } from '../../projections/document.ts'
import { listOperations } from '../../projections/operation-list.ts'
import { notFound } from '../errors.ts'
import type { RouteDeps } from '../command-resource-routes.ts'
import { stateOf, type Resource } from '../command-requests.ts'
import { currency, listQuery, operationFilters, pageOf, readErrors } from '../schemas.ts'

export const depositBody = z
  .object({
    id: z.string().meta({ description: "Circle's transfer id of the inbound transfer" }),
    walletId: z.uuid(),
    amount: z.string().meta({ example: '25.00' }),
    currency,
    status: z.literal('completed'),
    chain: z.string().nullable().meta({ description: 'The blockchain the USDC came from (e.g. ETH, SOL), when Circle said; null for a fiat deposit', example: 'ETH' }),
    txHash: z.string().nullable().meta({ description: 'The on-chain transaction hash, when Circle gave it', example: '0x4f1c…' }),
    createdAt: z.string(),
  })
  .meta({ id: 'Deposit', description: 'USDC that arrived on-chain at one of our deposit addresses and was credited to the wallet' })

export function toDeposit(id: string, r: Resource<DepositState>): z.infer<typeof depositBody> {
  const s = stateOf('deposit', id, r)
  return { id, walletId: s.walletId, amount: formatAmount(s.amount), currency: 'USD', status: s.status, chain: s.chain ?? null, txHash: s.txHash ?? null, createdAt: r.createdAt }
}

/** Inbound deposits are recorded from Circle, never requested: read-only routes. */
export const depositRoutes: FastifyPluginAsyncZod<RouteDeps> = async (app, { read }) => {
  app.get(
    '/deposits',
    {
      config: { roles: ['backend', 'auditor'] },
      schema: { tags: ['deposits'], summary: 'Inbound deposits, newest first', querystring: listQuery(operationFilters(z.enum(['completed']))), response: { 200: pageOf(depositBody).describe('A page of deposits, newest first'), ...readErrors } },
    },
    async (request) => {
      const { limit, cursor, ...filters } = request.query
      const page = await listOperations(read.db, deposits, filters, { limit, cursor })
      return { items: page.items.map((i) => toDeposit(i.id, i.resource)), nextCursor: page.nextCursor }
    },
  )
  app.get(
    '/deposits/:id',
    {
      config: { roles: ['backend', 'auditor'] },
      schema: { tags: ['deposits'], summary: 'One inbound deposit', params: z.object({ id: z.string().min(1).max(128) }), response: { 200: depositBody.describe('The deposit'), ...readErrors } },
    },
    async (request) => {
      const resource = await readDocument(read.db, deposits, request.params.id)
      if (!resource) throw notFound('deposit', request.params.id)
      return toDeposit(request.params.id, resource)
    },
  )
}
