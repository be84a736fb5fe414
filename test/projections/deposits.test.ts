import { randomUUID } from 'node:crypto'
import t from 'tap'
import { deposits } from '../../src/projections/deposits.ts'
import { projectionSpec } from '../helpers/projection.ts'

t.test('a deposit row is keyed by Circle transfer id and counted once', async (t) => {
  const { db, record, apply, coveredAll } = await projectionSpec(t)
  const walletId = randomUUID()
  const e = record('deposit-ct-in-1', { type: 'DepositCompleted', data: { depositId: 'ct-in-1', walletId, circleTransferId: 'ct-in-1', amount: '25000000', chain: 'SOL' } })
  await apply(deposits.projection, [e])
  await apply(deposits.projection, [e])
  t.same(await db.selectFrom('deposits').select(['id', 'wallet_id', 'status', 'amount']).execute(), [{ id: 'ct-in-1', wallet_id: walletId, status: 'completed', amount: '25000000' }])
  const row = await db.selectFrom('deposits').select('state').executeTakeFirstOrThrow()
  t.match(row.state, { chain: 'SOL' }, 'the chain is kept in the state')
  t.notOk('txHash' in (row.state as object), 'no hash where Circle gave none')

  const hashed = record('deposit-ct-in-2', { type: 'DepositCompleted', data: { depositId: 'ct-in-2', walletId, circleTransferId: 'ct-in-2', amount: '1000000', chain: 'ETH', txHash: '0xabc' } })
  await apply(deposits.projection, [hashed])
  const second = await db.selectFrom('deposits').select('state').where('id', '=', 'ct-in-2').executeTakeFirstOrThrow()
  t.match(second.state, { chain: 'ETH', txHash: '0xabc' })
  coveredAll(t, deposits.projection)
})
