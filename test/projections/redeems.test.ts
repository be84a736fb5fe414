import { randomUUID } from 'node:crypto'
import t from 'tap'
import { readDocument } from '../../src/projections/document.ts'
import { redeems } from '../../src/projections/redeems.ts'
import { attentionCycle, projectionSpec } from '../helpers/projection.ts'

t.test('redeem rows follow both steps, the payout failure and the compensation', async (t) => {
  const spec = await projectionSpec(t)
  const { db, record, apply, coveredAll } = spec
  const [walletId, bankAccountId, ok, comp] = [randomUUID(), randomUUID(), randomUUID(), randomUUID()]
  const failure = { code: 'payout_failed', message: 'bank refused' }
  const events = [
    record(`redeem-${ok}`, { type: 'RedeemRequested', data: { redeemId: ok, walletId, bankAccountId, amount: '40000000' } }),
    record(`redeem-${ok}`, { type: 'RedeemTransferSubmitted', data: { redeemId: ok, circleTransferId: 'ct-1' } }),
    record(`redeem-${ok}`, { type: 'RedeemTransferCompleted', data: { redeemId: ok, circleTransferId: 'ct-1' } }),
    record(`redeem-${ok}`, { type: 'RedeemPayoutSubmitted', data: { redeemId: ok, circlePayoutId: 'po-1' } }),
    record(`redeem-${ok}`, { type: 'RedeemCompleted', data: { redeemId: ok, circlePayoutId: 'po-1' } }),
    record(`redeem-${comp}`, { type: 'RedeemRequested', data: { redeemId: comp, walletId, bankAccountId, amount: '1000000' } }),
    record(`redeem-${comp}`, { type: 'RedeemTransferCompleted', data: { redeemId: comp, circleTransferId: 'ct-2' } }),
    record(`redeem-${comp}`, { type: 'RedeemPayoutFailed', data: { redeemId: comp, failure } }),
    record(`redeem-${comp}`, { type: 'RedeemCompensationSubmitted', data: { redeemId: comp, circleTransferId: 'ct-3a' } }),
    record(`redeem-${comp}`, { type: 'RedeemCompensationFailed', data: { redeemId: comp, circleTransferId: 'ct-3a', failure: { code: 'compensation_failed', message: 'Circle failed it' } } }),
    record(`redeem-${comp}`, { type: 'RedeemCompensationSubmitted', data: { redeemId: comp, circleTransferId: 'ct-3' } }),
  ]
  await apply(redeems.projection, events)
  t.match(await db.selectFrom('redeems').selectAll().where('id', '=', comp).executeTakeFirstOrThrow(), { status: 'processing', circle_id: 'ct-2' })
  const end = record(`redeem-${comp}`, { type: 'RedeemFailed', data: { redeemId: comp, failure, compensated: true } })
  await apply(redeems.projection, [end])
  await apply(redeems.projection, [end])
  t.match(await db.selectFrom('redeems').selectAll().where('id', '=', ok).executeTakeFirstOrThrow(), { status: 'completed', circle_id: 'po-1', bank_account_id: bankAccountId, amount: '40000000' })
  t.match((await readDocument(db, redeems, comp))!.state, { status: 'failed', phase: 'failed', compensationTransferId: 'ct-3', failedCompensations: ['ct-3a'], failure })
  await attentionCycle(t, spec, redeems, ok)
  coveredAll(t, redeems.projection)
})
