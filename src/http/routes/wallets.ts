import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { createWallet } from '../../commands/create-wallet.ts'
import type { EventStore } from '../../events/event-store.ts'
import { formatAmount } from '../../events/money.ts'
import { available, reserved, wallet, type WalletState } from '../../events/wallet.ts'
import { notFound } from '../errors.ts'
import { create, derivedId, read, waitIfAsked, type Resource } from '../operations.ts'
import { commandErrors, readErrors, currency, errorBody, failure, idempotencyHeaders, idParams } from '../schemas.ts'
import { addressBody, toAddress } from './addresses.ts'

export const walletBody = z
  .object({
    id: z.uuid(),
    ownerId: z.string(),
    description: z.string().optional(),
    status: z.enum(['pending', 'active', 'failed']),
    circleWalletId: z.string().optional(),
    addresses: z.array(addressBody),
    balances: z.object({
      available: z.string().meta({ example: '60.00' }),
      reserved: z.string().meta({ example: '40.00' }),
      total: z.string().meta({ example: '100.00' }),
      currency,
    }),
    failure: failure.optional(),
    createdAt: z.string(),
  })
  .meta({ id: 'Wallet' })

export function toWallet(id: string, r: Resource<WalletState>): z.infer<typeof walletBody> {
  const s = r.state
  const body: z.infer<typeof walletBody> = {
    id,
    ownerId: s.ownerId!,
    status: s.status === 'none' ? 'pending' : s.status,
    addresses: Object.values(s.addresses).map((a) => toAddress(id, a)),
    balances: {
      available: formatAmount(available(s)),
      reserved: formatAmount(reserved(s)),
      total: formatAmount(available(s) + reserved(s)),
      currency: 'USD',
    },
    createdAt: r.createdAt,
  }
  if (s.description !== undefined) body.description = s.description
  if (s.circleWalletId !== undefined) body.circleWalletId = s.circleWalletId
  if (s.failure !== undefined) body.failure = s.failure
  return body
}

export const readWallet = (store: EventStore, id: string) => read(store, wallet, id)

/** Custodial wallets: created at Circle by the process manager, so POST answers 202 pending. */
export const walletRoutes: FastifyPluginAsyncZod<{ store: EventStore }> = async (app, { store }) => {
  app.post(
    '/wallets',
    {
      config: { roles: ['backend'], idempotent: true },
      schema: {
        tags: ['wallets'],
        summary: 'Create a custodial wallet',
        headers: idempotencyHeaders,
        body: z.strictObject({ ownerId: z.string().min(1).max(128).meta({ example: 'user-42' }), description: z.string().max(255).optional() }),
        response: { 202: walletBody, ...commandErrors },
      },
    },
    async (request, reply) => {
      const walletId = derivedId(request, 'wallet')
      const command = { walletId, ownerId: request.body.ownerId, ...(request.body.description === undefined ? {} : { description: request.body.description }) }
      await create(store, createWallet, command, request, walletId)
      const created = await readWallet(store, walletId)
      const resource = await waitIfAsked(request, created!, () => readWallet(store, walletId), (s) => s.status !== 'pending')
      return reply.code(202).header('location', `/wallets/${walletId}`).send(toWallet(walletId, resource))
    },
  )

  app.get(
    '/wallets/:id',
    {
      config: { roles: ['backend', 'auditor'] },
      schema: { tags: ['wallets'], summary: 'A wallet with its addresses and balances', params: idParams, response: { 200: walletBody, ...readErrors } },
    },
    async (request) => {
      const resource = await readWallet(store, request.params.id)
      if (!resource) throw notFound('wallet', request.params.id)
      return toWallet(request.params.id, resource)
    },
  )
}
