import { randomUUID } from 'node:crypto'
import t from 'tap'
import { PostgresEventStore } from '../../src/adapters/event-store/postgres.ts'
import type { NewEvent } from '../../src/events/event-store.ts'
import { AggregateCache, foldEvents } from '../../src/events/fold.ts'
import { reconciliation } from '../../src/events/reconciliation.ts'
import { available, wallet } from '../../src/events/wallet.ts'
import { documentModels, readModels } from '../../src/projections/index.ts'
import { documentSnapshots } from '../../src/projections/snapshots.ts'
import { wallets } from '../../src/projections/wallets.ts'
import { checkpointName } from '../../src/subscriptions/projection.ts'
import { ProjectionRunner } from '../../src/subscriptions/projection-runner.ts'
import { testDatabase } from '../helpers/database.ts'
import { countingReads, testMetadata } from '../helpers/events.ts'

/** A wallet with open and closed reservations among `pairs` reserve-then-debit pairs: state a snapshot must carry whole. */
function longWallet(walletId: string, pairs: number): NewEvent[] {
  const event = (type: string, data: Record<string, unknown>): NewEvent => ({ id: randomUUID(), type, data: { walletId, ...data }, metadata: testMetadata() })
  const events = [event('WalletCreationRequested', { ownerId: 'o', description: 'long' }), event('WalletCreated', { circleWalletId: '1000001' })]
  events.push(event('FundsCredited', { operationId: randomUUID(), amount: '100000000', source: 'mint' }))
  for (let i = 0; i < pairs; i++) {
    const operationId = randomUUID()
    events.push(event('FundsReserved', { operationId, amount: '1' }))
    if (i % 100 !== 0) events.push(event('FundsDebited', { operationId, amount: '1' }))
  }
  return events
}

t.test('the command side starts a long wallet from its read-model row, and only while the row is this version', async (t) => {
  const { db, pool } = await testDatabase(t)
  const store = new PostgresEventStore(pool, { pollIntervalMs: 50 })
  t.teardown(() => store.close())
  const walletId = randomUUID()
  const stream = wallet.streamName(walletId)
  await store.append(stream, longWallet(walletId, 1500), { expected: 'no_stream' })
  const runner = new ProjectionRunner({ projections: readModels, store, db })
  runner.start()
  for (let waited = 0; (await runner.status()).lag !== 0; waited += 50) {
    if (waited > 30_000) throw new Error('the read models did not catch up')
    await new Promise((r) => setTimeout(r, 50))
  }
  await runner.stop()
  const projected = await store.readStream(stream)
  const head = projected.at(-1)!.revision
  t.ok(head > 2500, `a wallet longer than two pages (${head + 1} events)`)

  // Appended after the projection stopped: the row is behind, and the cache must read the rest.
  const later = longWallet(walletId, 3).slice(2)
  await store.append(stream, later, { expected: head })
  const whole = await store.readStream(stream)
  const source = documentSnapshots(db, documentModels)

  const snapshot = await source(wallet as never, walletId)
  t.equal(snapshot?.revision, head, 'the row is a snapshot at the last revision it folded')
  t.equal(snapshot?.position, projected.at(-1)!.position, 'with the position of that event')
  t.strictSame(snapshot?.state, foldEvents(wallet, projected), 'equal to folding the same events here, bigints and open reservations included')
  t.equal(await source(reconciliation as never, randomUUID()), undefined, 'a stream type without a document model has none')
  t.equal(await source(wallet as never, randomUUID()), undefined, 'a stream without a row has none')

  // A new process: its cache is empty. Reads are counted.
  const { store: counting, reads } = countingReads(store)
  const cache = new AggregateCache()
  cache.snapshots = source
  const folded = await cache.load(counting, wallet, walletId)
  t.same(reads, [{ from: 0, got: 1000 }, { from: head, got: 1 + later.length }], 'one page, then the row\'s last event (to check it is this stream\'s) and what the row has not folded')
  t.equal(folded.revision, whole.at(-1)!.revision)
  t.strictSame(folded.state, foldEvents(wallet, whole), 'the state a full fold gives')
  t.equal(available(folded.state), available(foldEvents(wallet, whole)))

  // Another version of the projection is live (its rebuild not yet in place): this code's rows are not offered.
  const name = checkpointName(wallets.projection)
  await db.updateTable('checkpoints').set({ name: 'projection:wallets@v999' }).where('name', '=', name).execute()
  t.equal(await source(wallet as never, walletId), undefined, 'no snapshot without this version\'s checkpoint')
  reads.length = 0
  const unguided = new AggregateCache()
  unguided.snapshots = source
  t.strictSame((await unguided.load(counting, wallet, walletId)).state, foldEvents(wallet, whole), 'the stream is folded from its first event instead')
  t.same(reads.map((r) => r.got), [1000, 1000, whole.length - 2000], 'page by page')
})
