import { z } from 'zod'
import { requestRedeem, schema as redeemCommand } from '../../commands/request-redeem.ts'
import { isTerminal } from '../../events/event.ts'
import type { RedeemState } from '../../events/redeem.ts'
import { redeems } from '../../projections/redeems.ts'
import { listOperations } from '../../projections/operation-list.ts'
import { operationRoutes } from '../command-resource-routes.ts'
import { create, money, operationView, stateOf, type Resource } from '../command-requests.ts'
import { currency, operationFields, operationFilters, operationStatus, wireAmount, type ErrorExample } from '../schemas.ts'

export const redeemBody = z
  .object({
    id: z.uuid(),
    walletId: z.uuid(),
    bankAccountId: z.uuid(),
    ...operationFields,
    circleTransferId: z.string().optional(),
    circlePayoutId: z.string().optional(),
  })
  .meta({
    id: 'Redeem',
    example: { id: 'e2f4a6c8-0b1d-4e3f-9a5c-7d9e1f3a5b7c', walletId: '3f0c6d2e-8a4b-4c1d-9e2f-5a6b7c8d9e0f', bankAccountId: '9b2d4e6f-1a3c-4e5f-8a7b-0c1d2e3f4a5b', amount: '40.00', currency: 'USD', status: 'processing', circleTransferId: 'a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d', createdAt: '2026-11-26T09:30:00.000Z', updatedAt: '2026-11-26T09:30:02.412Z' },
  })

export function toRedeem(id: string, r: Resource<RedeemState>): z.infer<typeof redeemBody> {
  const s = stateOf('redeem', id, r)
  return {
    id,
    walletId: s.walletId,
    bankAccountId: s.bankAccountId,
    ...operationView(s, r),
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
    body: redeemCommand.pick({ walletId: true, bankAccountId: true }).extend({ amount: wireAmount, currency: currency.optional() }).strict(),
    response: redeemBody,
    model: redeems,
    create: (store, request, body, redeemId) =>
      create(store, requestRedeem, { redeemId, walletId: body.walletId, bankAccountId: body.bankAccountId, amount: money(body.amount, maxAmount) }, request, redeemId),
    toResponse: toRedeem,
    settled: (s) => isTerminal(s.status),
    rules: [
      ['insufficient_funds', 'wallet 3f0c6d2e-8a4b-4c1d-9e2f-5a6b7c8d9e0f has 4.00 available, 10.00 needed'],
      ['bank_account_not_linked', 'bank account 9b2d4e6f-1a3c-4e5f-8a7b-0c1d2e3f4a5b is pending, not linked'],
      ['bank_account_not_found', 'bank account 9b2d4e6f-1a3c-4e5f-8a7b-0c1d2e3f4a5b does not exist'],
      ['bank_account_owner_mismatch', "bank account 9b2d4e6f-1a3c-4e5f-8a7b-0c1d2e3f4a5b does not belong to the wallet's owner"],
      ['wallet_not_found', 'wallet 3f0c6d2e-8a4b-4c1d-9e2f-5a6b7c8d9e0f does not exist'],
      ['wallet_not_active', 'wallet 3f0c6d2e-8a4b-4c1d-9e2f-5a6b7c8d9e0f is pending, not active'],
    ] satisfies ErrorExample[],
    list: { summary: 'Redeems, newest first', filters: operationFilters(operationStatus), run: (db, filters, page) => listOperations(db, redeems, filters, page) },
  })
