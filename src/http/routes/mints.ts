import { z } from 'zod'
import { requestMint } from '../../commands/request-mint.ts'
import { isTerminal } from '../../events/event.ts'
import type { MintState } from '../../events/mint.ts'
import { mints } from '../../projections/mints.ts'
import { listOperations } from '../../projections/operation-list.ts'
import { operationRoutes } from '../operation-routes.ts'
import { create, money, operationView, type Resource } from '../operations.ts'
import { amount, currency, id, operationFields, operationFilters } from '../schemas.ts'

export const mintBody = z
  .object({ id: z.uuid(), walletId: z.uuid(), ...operationFields, circleTransferId: z.string().optional() })
  .meta({ id: 'Mint' })

export function toMint(id: string, r: Resource<MintState>): z.infer<typeof mintBody> {
  const s = r.state
  return { id, walletId: s.walletId!, ...operationView(r), ...(s.circleTransferId === undefined ? {} : { circleTransferId: s.circleTransferId }) }
}

/** Mint (fiat -> USDC): Circle moves USDC from the treasury (master wallet) to the user's wallet. */
export const mintRoutes = (maxAmount: bigint) =>
  operationRoutes({
    tag: 'mint',
    name: 'mint',
    createPath: '/mint',
    readPath: '/mints',
    summaries: { create: 'Mint USDC into a wallet from the treasury', read: 'A mint and its status' },
    body: z.strictObject({ walletId: id, amount, currency: currency.optional() }),
    response: mintBody,
    model: mints,
    create: (store, request, body, mintId) => create(store, requestMint, { mintId, walletId: body.walletId, amount: money(body.amount, maxAmount) }, request, mintId),
    toResponse: toMint,
    settled: (s) => isTerminal(s.status),
    list: { summary: 'Mints, newest first', filters: operationFilters, run: (db, filters, page) => listOperations(db, mints, filters, page) },
  })
