import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { formatAmount } from '../../events/money.ts'
import { listWalletOperations } from '../../projections/wallet-operations.ts'
import { getWallet } from '../../projections/wallets.ts'
import { notFound } from '../errors.ts'
import type { RouteDeps } from '../command-resource-routes.ts'
import { currency, idParams, listQuery, operationStatus, pageOf, readErrors } from '../schemas.ts'

export const walletOperationBody = z
  .object({
    operationId: z.string(),
    kind: z.enum(['mint', 'redeem', 'transfer', 'deposit']),
    direction: z.enum(['in', 'out']).meta({ description: 'in: funds arrive in this wallet; out: they leave it' }),
    status: operationStatus,
    amount: z.string().meta({ example: '10.50' }),
    currency,
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .meta({ id: 'WalletOperation' })

/** A wallet's timeline: every money operation that touched it, newest first. */
export const walletOperationRoutes: FastifyPluginAsyncZod<RouteDeps> = async (app, { read }) => {
  app.get(
    '/wallets/:id/operations',
    {
      config: { roles: ['backend', 'auditor'] },
      schema: {
        tags: ['wallets'],
        summary: "A wallet's operations (mints, redeems, transfers both ways, deposits), newest first",
        params: idParams,
        querystring: listQuery({}),
        response: { 200: pageOf(walletOperationBody).describe('A page of the wallet’s operations, newest first'), ...readErrors },
      },
    },
    async (request) => {
      const walletId = request.params.id
      const page = await listWalletOperations(read.db, walletId, request.query)
      if (page.items.length === 0 && request.query.cursor === undefined && !(await getWallet(read.db, walletId))) throw notFound('wallet', walletId)
      return {
        items: page.items.map((r) => ({
          operationId: r.operation_id,
          kind: r.kind,
          direction: r.direction,
          status: r.status,
          amount: formatAmount(BigInt(r.amount)),
          currency: 'USD' as const,
          createdAt: r.created_at.toISOString(),
          updatedAt: r.updated_at.toISOString(),
        })),
        nextCursor: page.nextCursor,
      }
    },
  )
}
