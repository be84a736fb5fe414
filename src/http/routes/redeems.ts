import { z } from 'zod'
import { requestRedeem } from '../../commands/request-redeem.ts'
import { isTerminal } from '../../events/event.ts'
import type { RedeemState } from '../../events/redeem.ts'
import { redeems } from '../../projections/redeems.ts'
import { listOperations } from '../../projections/operation-list.ts'
import { operationRoutes } from '../operation-routes.ts'
import { create, money, operationView, type Resource } from '../operations.ts'
import { amount, currency, id, operationFields, operationFilters } from '../schemas.ts'

export const redeemBody = z
  .object({
    id: z.uuid(),
    walletId: z.uuid(),
    bankAccountId: z.uuid(),
    ...operationFields,
    circleTransferId: z.string().optional(),
    circlePayoutId: z.string().optional(),
  })
  .meta({ id: 'Redeem' })

export function toRedeem(id: string, r: Resource<RedeemState>): z.infer<typeof redeemBody> {
  const s = r.state
  return {
    id,
    walletId: s.walletId!,
    bankAccountId: s.bankAccountId!,
    ...operationView(r),
    ...(s.circleTransferId === undefined ? {} : { circleTransferId: s.circleTransferId }),
    ...(s.circlePayoutId === undefined ? {} : { circlePayoutId: s.circlePayoutId }),
  }
}

/** Redeem (USDC -> fiat wire): reserves the amount now; the process manager runs Circle's two steps. */
export const redeemRoutes = (maxAmount: bigint) =>
  operationRoutes({
    tag: 'redeem',
    name: 'redeem',
    createPath: '/redeem',
    readPath: '/redeems',
    summaries: { create: 'Redeem USDC from a wallet to a linked bank account', read: 'A redeem and its status' },
    body: z.strictObject({ walletId: id, bankAccountId: id, amount, currency: currency.optional() }),
    response: redeemBody,
    model: redeems,
    create: (store, request, body, redeemId) =>
      create(store, requestRedeem, { redeemId, walletId: body.walletId, bankAccountId: body.bankAccountId, amount: money(body.amount, maxAmount) }, request, redeemId),
    toResponse: toRedeem,
    settled: (s) => isTerminal(s.status),
    list: { summary: 'Redeems, newest first', filters: operationFilters, run: (db, filters, page) => listOperations(db, redeems, filters, page) },
  })
