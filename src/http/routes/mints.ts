import { z } from 'zod'
import { requestMint, schema as mintCommand } from '../../commands/request-mint.ts'
import { isTerminal } from '../../events/event.ts'
import type { MintState } from '../../events/mint.ts'
import { mints } from '../../projections/mints.ts'
import { listOperations } from '../../projections/operation-list.ts'
import { operationRoutes } from '../command-resource-routes.ts'
import { create, money, operationView, stateOf, type Resource } from '../command-requests.ts'
import { amount, currency, operationFields, operationFilters, operationStatus, type ErrorExample } from '../schemas.ts'

export const mintBody = z
  .object({ id: z.uuid(), walletId: z.uuid(), ...operationFields, circleTransferId: z.string().optional() })
  .meta({
    id: 'Mint',
    example: { id: '5e8f0a2c-4d6b-4f1e-8a3c-9b7d5e3f1a0c', walletId: '3f0c6d2e-8a4b-4c1d-9e2f-5a6b7c8d9e0f', amount: '100.00', currency: 'USD', status: 'completed', circleTransferId: 'b8627ae8-732b-4d25-b947-1df8f4007a29', createdAt: '2026-11-26T09:30:00.000Z', updatedAt: '2026-11-26T09:30:02.412Z' },
  })

export function toMint(id: string, r: Resource<MintState>): z.infer<typeof mintBody> {
  const s = stateOf('mint', id, r)
  return { id, walletId: s.walletId, ...operationView(s, r), ...(s.circleTransferId === undefined ? {} : { circleTransferId: s.circleTransferId }) }
}

/** Mint (fiat -> USDC): Circle moves USDC from the treasury (master wallet) to the user's wallet. */
export const mintRoutes = (maxAmount: bigint) =>
  operationRoutes({
    tag: 'mint',
    name: 'mint',
    createPath: '/mint',
    readPath: '/mints',
    summaries: { create: 'Mint USDC into a wallet from the treasury', read: 'A mint and its status' },
    body: mintCommand.pick({ walletId: true }).extend({ amount, currency: currency.optional() }).strict(),
    response: mintBody,
    model: mints,
    create: (store, request, body, mintId) => create(store, requestMint, { mintId, walletId: body.walletId, amount: money(body.amount, maxAmount) }, request, mintId),
    toResponse: toMint,
    settled: (s) => isTerminal(s.status),
    rules: [['wallet_not_found', 'wallet 3f0c6d2e-8a4b-4c1d-9e2f-5a6b7c8d9e0f does not exist'], ['wallet_not_active', 'wallet 3f0c6d2e-8a4b-4c1d-9e2f-5a6b7c8d9e0f is pending, not active']] satisfies ErrorExample[],
    list: { summary: 'Mints, newest first', filters: operationFilters(operationStatus), run: (db, filters, page) => listOperations(db, mints, filters, page) },
  })
