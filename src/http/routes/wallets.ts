import { z } from 'zod'
import { createWallet, schema as createWalletCommand } from '../../commands/create-wallet.ts'
import { formatAmount } from '../../events/money.ts'
import { available, reserved, type WalletState } from '../../events/wallet.ts'
import { listWallets, wallets } from '../../projections/wallets.ts'
import { operationRoutes } from '../command-resource-routes.ts'
import { create, stateOf, type Resource } from '../command-requests.ts'
import { currency, failure } from '../schemas.ts'
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
  .meta({
    id: 'Wallet',
    example: {
      id: '3f0c6d2e-8a4b-4c1d-9e2f-5a6b7c8d9e0f',
      ownerId: 'user-42',
      description: 'main',
      status: 'active',
      circleWalletId: '1000216185',
      addresses: [{ id: '7a1e3c5d-2b4f-4e6a-9c8d-0f1e2d3c4b5a', walletId: '3f0c6d2e-8a4b-4c1d-9e2f-5a6b7c8d9e0f', chain: 'SOL', status: 'active', address: '4Nd1mBQtrMJVYVfKf2PJy9NZUZdTAsp7D4xWLs4gDB4T' }],
      balances: { available: '60.00', reserved: '40.00', total: '100.00', currency: 'USD' },
      createdAt: '2026-11-26T09:30:00.000Z',
    },
  })

export function toWallet(id: string, r: Resource<WalletState>): z.infer<typeof walletBody> {
  const s = stateOf('wallet', id, r)
  const body: z.infer<typeof walletBody> = {
    id,
    ownerId: s.ownerId,
    status: s.status,
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

/** Custodial wallets: created at Circle by the process manager, so POST answers 202 pending. */
export const walletRoutes = operationRoutes({
  tag: 'wallets',
  name: 'wallet',
  createPath: '/wallets',
  readPath: '/wallets',
  summaries: { create: 'Create a custodial wallet', read: 'A wallet with its addresses and balances' },
  body: createWalletCommand.pick({ description: true }).extend({ ownerId: createWalletCommand.shape.ownerId.meta({ example: 'user-42' }) }).strict(),
  response: walletBody,
  model: wallets,
  create: (store, request, body, walletId) =>
    create(store, createWallet, { walletId, ownerId: body.ownerId, ...(body.description === undefined ? {} : { description: body.description }) }, request, walletId),
  toResponse: toWallet,
  settled: (s) => s.status !== 'pending',
  creates: 'resource',
  list: {
    summary: 'Wallets, newest first',
    filters: { ownerId: z.string().min(1).max(128).optional().meta({ description: 'Only the wallets of this owner' }) },
    run: (db, filters, page) => listWallets(db, filters, page),
  },
})
