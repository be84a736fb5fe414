import { randomUUID } from 'node:crypto'
import t from 'tap'
import { listWalletOperations, walletOperations } from '../../src/projections/wallet-operations.ts'
import { projectionSpec } from '../helpers/projection.ts'

t.test('the timeline lists every money operation of a wallet, both sides of an internal transfer, statuses only moving forward', async (t) => {
  const { db, record, apply, coveredAll } = await projectionSpec(t)
  const [w, other, m, mf, r, tr, tc] = [randomUUID(), randomUUID(), randomUUID(), randomUUID(), randomUUID(), randomUUID(), randomUUID()]
  const failure = { code: 'x', message: 'y' }
  const batch1 = [
    record(`mint-${m}`, { type: 'MintRequested', data: { mintId: m, walletId: w, amount: '100000000' } }),
    record(`mint-${m}`, { type: 'MintSubmitted', data: { mintId: m, circleTransferId: 'c1' } }),
    record(`mint-${mf}`, { type: 'MintRequested', data: { mintId: mf, walletId: w, amount: '1' } }),
    record(`redeem-${r}`, { type: 'RedeemRequested', data: { redeemId: r, walletId: w, bankAccountId: 'b', amount: '2000000' } }),
    record(`transfer-${tr}`, { type: 'TransferRequested', data: { transferId: tr, sourceWalletId: w, destination: { type: 'wallet', walletId: other }, amount: '3000000' } }),
    record(`transfer-${tc}`, { type: 'TransferRequested', data: { transferId: tc, sourceWalletId: other, destination: { type: 'blockchain', chain: 'SOL', address: 'a' }, amount: '1000000' } }),
  ]
  await apply(walletOperations, batch1)
  const batch2 = [
    record(`mint-${m}`, { type: 'MintCompleted', data: { mintId: m, circleTransferId: 'c1' } }),
    record(`mint-${mf}`, { type: 'MintFailed', data: { mintId: mf, failure } }),
    record(`redeem-${r}`, { type: 'RedeemTransferSubmitted', data: { redeemId: r, circleTransferId: 'c2' } }),
    record(`redeem-${r}`, { type: 'RedeemTransferCompleted', data: { redeemId: r, circleTransferId: 'c2' } }),
    record(`redeem-${r}`, { type: 'RedeemPayoutSubmitted', data: { redeemId: r, circlePayoutId: 'p' } }),
    record(`redeem-${r}`, { type: 'RedeemPayoutFailed', data: { redeemId: r, failure } }),
    record(`redeem-${r}`, { type: 'RedeemCompensationSubmitted', data: { redeemId: r, circleTransferId: 'c3' } }),
    record(`redeem-${r}`, { type: 'RedeemFailed', data: { redeemId: r, failure, compensated: true } }),
    record(`transfer-${tr}`, { type: 'TransferSubmitted', data: { transferId: tr, circleTransferId: 'c4' } }),
    record(`transfer-${tr}`, { type: 'TransferCompleted', data: { transferId: tr, circleTransferId: 'c4' } }),
    record(`transfer-${tc}`, { type: 'TransferFailed', data: { transferId: tc, failure } }),
    record('deposit-d1', { type: 'DepositCompleted', data: { depositId: 'd1', walletId: w, circleTransferId: 'd1', amount: '5000000' } }),
  ]
  await apply(walletOperations, batch2)
  // Redelivered, and a late "processing" event after completion: nothing moves back.
  await apply(walletOperations, [...batch1, ...batch2, record(`mint-${m}`, { type: 'MintSubmitted', data: { mintId: m, circleTransferId: 'c1' } })])
  // An operation that opens and finishes inside one batch is written with its final status.
  const quick = randomUUID()
  await apply(walletOperations, [
    record(`redeem-${quick}`, { type: 'RedeemRequested', data: { redeemId: quick, walletId: w, bankAccountId: 'b', amount: '1' } }),
    record(`redeem-${quick}`, { type: 'RedeemCompleted', data: { redeemId: quick, circlePayoutId: 'p2' } }),
  ])

  const page = await listWalletOperations(db, w, { limit: 200 })
  const view = Object.fromEntries(page.items.map((i) => [i.operation_id, `${i.kind}:${i.direction}:${i.status}:${i.amount}`]))
  t.same(view, {
    [m]: 'mint:in:completed:100000000',
    [mf]: 'mint:in:failed:1',
    [r]: 'redeem:out:failed:2000000',
    [tr]: 'transfer:out:completed:3000000',
    d1: 'deposit:in:completed:5000000',
    [quick]: 'redeem:out:completed:1',
  })
  t.same(page.items.map((i) => i.operation_id), [quick, 'd1', tr, r, mf, m], 'newest first')
  const theirs = await listWalletOperations(db, other, {})
  t.same(theirs.items.map((i) => `${i.operation_id}:${i.direction}:${i.status}`), [`${tc}:out:failed`, `${tr}:in:completed`])
  const paged = await listWalletOperations(db, w, { limit: 4 })
  const rest = await listWalletOperations(db, w, { limit: 4, cursor: paged.nextCursor! })
  t.same([...paged.items, ...rest.items].map((i) => i.operation_id), page.items.map((i) => i.operation_id), 'pages join up without gaps or repeats')
  coveredAll(t, walletOperations)
})

t.test('a batch moving more operations than one UPDATE has parameters for moves every one of them', async (t) => {
  const { db, record, apply } = await projectionSpec(t)
  const w = randomUUID()
  // 14,000 status changes of five parameters each: over PostgreSQL's 65,535 in one statement.
  const mints = Array.from({ length: 14_000 }, () => randomUUID())
  await apply(walletOperations, mints.map((m) => record(`mint-${m}`, { type: 'MintRequested', data: { mintId: m, walletId: w, amount: '1' } })))
  await apply(walletOperations, mints.map((m, i) => record(`mint-${m}`, { type: 'MintCompleted', data: { mintId: m, circleTransferId: `c-${i}` } })))
  const statuses = await db.selectFrom('wallet_operations').select(['status', (eb) => eb.fn.countAll().as('n')]).groupBy('status').execute()
  t.same(statuses.map((r) => [r.status, Number(r.n)]), [['completed', 14_000]], 'every operation completed')
})
