import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { requestRedeem } from '../../commands/request-redeem.ts'
import { isTerminal } from '../../events/event.ts'
import type { EventStore } from '../../events/event-store.ts'
import { formatAmount } from '../../events/money.ts'
import { redeem, type RedeemState } from '../../events/redeem.ts'
import { notFound } from '../errors.ts'
import { create, derivedId, money, read, waitIfAsked, type Resource } from '../operations.ts'
import { amount, commandErrors, readErrors, currency, errorBody, failure, id, idempotencyHeaders, idParams, operationStatus } from '../schemas.ts'

export const redeemBody = z
  .object({
    id: z.uuid(),
    walletId: z.uuid(),
    bankAccountId: z.uuid(),
    amount: z.string().meta({ example: '40.00' }),
    currency,
    status: operationStatus,
    circleTransferId: z.string().optional(),
    circlePayoutId: z.string().optional(),
    failure: failure.optional(),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .meta({ id: 'Redeem' })

export function toRedeem(id: string, r: Resource<RedeemState>): z.infer<typeof redeemBody> {
  const s = r.state
  const body: z.infer<typeof redeemBody> = {
    id,
    walletId: s.walletId!,
    bankAccountId: s.bankAccountId!,
    amount: formatAmount(s.amount!),
    currency: 'USD',
    status: s.status === 'none' ? 'pending' : s.status,
    createdAt: r.createdAt,
    updatedAt: r.updatedAt,
  }
  if (s.circleTransferId !== undefined) body.circleTransferId = s.circleTransferId
  if (s.circlePayoutId !== undefined) body.circlePayoutId = s.circlePayoutId
  if (s.failure !== undefined && s.status === 'failed') body.failure = s.failure
  return body
}

/** Redeem (USDC -> fiat wire): reserves the amount now; the process manager runs Circle's two steps. */
export const redeemRoutes: FastifyPluginAsyncZod<{ store: EventStore; maxAmount: bigint }> = async (app, { store, maxAmount }) => {
  app.post(
    '/redeem',
    {
      config: { roles: ['backend'], idempotent: true },
      schema: {
        tags: ['redeem'],
        summary: 'Redeem USDC from a wallet to a linked bank account',
        headers: idempotencyHeaders,
        body: z.strictObject({ walletId: id, bankAccountId: id, amount, currency: currency.optional() }),
        response: { 202: redeemBody, ...commandErrors },
      },
    },
    async (request, reply) => {
      const redeemId = derivedId(request, 'redeem')
      const { walletId, bankAccountId } = request.body
      await create(store, requestRedeem, { redeemId, walletId, bankAccountId, amount: money(request.body.amount, maxAmount) }, request, redeemId)
      const reread = () => read(store, redeem, redeemId)
      const resource = await waitIfAsked(request, (await reread())!, reread, (s) => isTerminal(s.status))
      return reply.code(202).header('location', `/redeems/${redeemId}`).send(toRedeem(redeemId, resource))
    },
  )

  app.get(
    '/redeems/:id',
    {
      config: { roles: ['backend', 'auditor'] },
      schema: { tags: ['redeem'], summary: 'A redeem and its status', params: idParams, response: { 200: redeemBody, ...readErrors } },
    },
    async (request) => {
      const resource = await read(store, redeem, request.params.id)
      if (!resource) throw notFound('redeem', request.params.id)
      return toRedeem(request.params.id, resource)
    },
  )
}
