import { randomUUID } from 'node:crypto'
import t from 'tap'
import { getWallet, listWallets, wallets } from '../../src/projections/wallets.ts'
import { attentionCycle, projectionSpec } from '../helpers/projection.ts'

t.test('a wallet row follows creation, addresses and every balance movement', async (t) => {
  const spec = await projectionSpec(t)
  const { db, record, apply, coveredAll } = spec
  const walletId = randomUUID()
  const stream = `wallet-${walletId}`
  const [a1, a2] = [randomUUID(), randomUUID()]
  const events = [
    record(stream, { type: 'WalletCreationRequested', data: { walletId, ownerId: 'owner-1', description: 'main' } }),
    record(stream, { type: 'WalletCreated', data: { walletId, circleWalletId: '1000001' } }),
    record(stream, { type: 'DepositAddressRequested', data: { walletId, addressId: a1, chain: 'SOL' } }),
    record(stream, { type: 'DepositAddressRequested', data: { walletId, addressId: a2, chain: 'ETH' } }),
    record(stream, { type: 'DepositAddressCreated', data: { walletId, addressId: a1, chain: 'SOL', address: 'So1anaAddr' } }),
    record(stream, { type: 'DepositAddressFailed', data: { walletId, addressId: a2, chain: 'ETH', failure: { code: 'circle_2', message: 'no' } } }),
    record(stream, { type: 'FundsCredited', data: { walletId, operationId: 'm1', amount: '100000000', source: 'mint' } }),
    record(stream, { type: 'FundsReserved', data: { walletId, operationId: 't1', amount: '30000000' } }),
    record(stream, { type: 'FundsReserved', data: { walletId, operationId: 't2', amount: '20000000' } }),
    record(stream, { type: 'FundsDebited', data: { walletId, operationId: 't1', amount: '30000000' } }),
    record(stream, { type: 'ReservationReleased', data: { walletId, operationId: 't2', amount: '20000000' } }),
    record(stream, { type: 'FundsReserved', data: { walletId, operationId: 't3', amount: '5000000' } }),
  ]
  const failedId = randomUUID()
  const failed = [
    record(`wallet-${failedId}`, { type: 'WalletCreationRequested', data: { walletId: failedId, ownerId: 'owner-2' } }),
    record(`wallet-${failedId}`, { type: 'WalletCreationFailed', data: { walletId: failedId, failure: { code: 'circle_1', message: 'no' } } }),
  ]
  // Split across two batches, an unrelated event in between, and the second batch handed over twice.
  const unrelated = record(`mint-${randomUUID()}`, { type: 'MintRequested', data: { mintId: 'x', walletId, amount: '1' } })
  await apply(wallets.projection, events.slice(0, 5))
  await apply(wallets.projection, [unrelated, ...events.slice(5)])
  await apply(wallets.projection, events.slice(5))
  await apply(wallets.projection, failed)

  const row = await db.selectFrom('wallets').selectAll().where('id', '=', walletId).executeTakeFirstOrThrow()
  t.match(row, { owner_id: 'owner-1', status: 'active', circle_wallet_id: '1000001', available: '65000000', reserved: '5000000' })
  t.equal(row.revision, 11, 'the row records the last revision folded in')
  t.equal(row.position, events.at(-1)!.position, 'and the position it was last updated at')
  const resource = (await getWallet(db, walletId))!
  t.equal(resource.state.addresses[a1]!.address, 'So1anaAddr')
  t.equal(resource.state.addresses[a2]!.status, 'failed')
  t.equal(resource.state.credited, 100000000n, 'bigints survive the JSON round trip')
  t.equal(resource.createdAt, events[0]!.metadata.occurredAt)
  t.equal(resource.updatedAt, events.at(-1)!.metadata.occurredAt)
  t.equal(await db.selectFrom('wallets').select('id').execute().then((r) => r.length), 2, 'the unrelated event made no row')
  t.match(await db.selectFrom('wallets').selectAll().where('id', '=', failedId).executeTakeFirstOrThrow(), { status: 'failed', available: '0' })
  await attentionCycle(t, spec, wallets, walletId)
  coveredAll(t, wallets.projection)
})

t.test('a failed creation shows failed; lists page newest first by owner with an opaque cursor', async (t) => {
  const { db, record, apply } = await projectionSpec(t)
  const ids = Array.from({ length: 5 }, () => randomUUID())
  const events = ids.map((walletId, i) => record(`wallet-${walletId}`, { type: 'WalletCreationRequested', data: { walletId, ownerId: i < 4 ? 'a' : 'b' } }))
  events.push(record(`wallet-${ids[0]}`, { type: 'WalletCreationFailed', data: { walletId: ids[0]!, failure: { code: 'circle_1', message: 'no' } } }))
  await apply(wallets.projection, events)
  t.equal((await db.selectFrom('wallets').select('status').where('id', '=', ids[0]!).executeTakeFirstOrThrow()).status, 'failed')
  const first = await listWallets(db, { ownerId: 'a' }, { limit: 3 })
  t.same(first.items.map((i) => i.id), [ids[3], ids[2], ids[1]])
  t.ok(first.nextCursor)
  const second = await listWallets(db, { ownerId: 'a' }, { limit: 3, cursor: first.nextCursor! })
  t.same(second.items.map((i) => i.id), [ids[0]])
  t.equal(second.nextCursor, null)
  t.equal((await listWallets(db, {}, {})).items.length, 5)
})
