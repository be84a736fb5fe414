import { randomUUID } from 'node:crypto'
import t from 'tap'
import { readDocument } from '../../src/projections/document.ts'
import { mints } from '../../src/projections/mints.ts'
import { listOperations } from '../../src/projections/operation-list.ts'
import { attentionCycle, projectionSpec } from '../helpers/projection.ts'

t.test('a mint row follows its lifecycle; a repeated batch and foreign events change nothing', async (t) => {
  const spec = await projectionSpec(t)
  const { db, record, apply, coveredAll } = spec
  const [walletId, done, failed] = [randomUUID(), randomUUID(), randomUUID()]
  const events = [
    record(`mint-${done}`, { type: 'MintRequested', data: { mintId: done, walletId, amount: '10500000' } }),
    record(`mint-${failed}`, { type: 'MintRequested', data: { mintId: failed, walletId, amount: '1000000' } }),
    record(`wallet-${walletId}`, { type: 'FundsCredited', data: { walletId, operationId: done, amount: '1', source: 'mint' } }),
    record(`mint-${done}`, { type: 'MintTreasuryChecked', data: { mintId: done, treasuryAvailable: '999000000' } }),
    record(`mint-${done}`, { type: 'MintSubmitted', data: { mintId: done, circleTransferId: 'ct-1' } }),
    record(`mint-${failed}`, { type: 'MintFailed', data: { mintId: failed, failure: { code: 'insufficient_treasury_balance', message: 'short' } } }),
  ]
  const completed = record(`mint-${done}`, { type: 'MintCompleted', data: { mintId: done, circleTransferId: 'ct-1' } })
  await apply(mints.projection, events)
  t.match(await db.selectFrom('mints').selectAll().where('id', '=', done).executeTakeFirstOrThrow(), { status: 'processing', circle_id: 'ct-1', amount: '10500000', wallet_id: walletId })
  await apply(mints.projection, [completed])
  await apply(mints.projection, [...events, completed])
  const row = await db.selectFrom('mints').selectAll().where('id', '=', done).executeTakeFirstOrThrow()
  t.match(row, { status: 'completed', revision: 3 })
  const resource = (await readDocument(db, mints, done))!
  t.equal(resource.state.amount, 10500000n)
  t.equal(resource.state.treasuryChecked, true)
  t.match((await readDocument(db, mints, failed))!.state, { status: 'failed', failure: { code: 'insufficient_treasury_balance' } })
  t.equal((await db.selectFrom('mints').select('id').execute()).length, 2)
  await attentionCycle(t, spec, mints, done)
  coveredAll(t, mints.projection)

  const byStatus = await listOperations(db, mints, { walletId, status: 'failed' }, {})
  t.same(byStatus.items.map((i) => i.id), [failed])
  const range = await listOperations(db, mints, { createdAfter: events[0]!.metadata.occurredAt }, {})
  t.same(range.items.map((i) => i.id), [failed], 'createdAfter is exclusive')
  const before = await listOperations(db, mints, { createdBefore: events[1]!.metadata.occurredAt }, {})
  t.same(before.items.map((i) => i.id), [done], 'createdBefore is exclusive')
})
