import { randomUUID } from 'node:crypto'
import t from 'tap'
import { MemoryEventStore } from '../../src/adapters/event-store/memory.ts'
import type { EventStore, NewEvent, ReadStreamOptions } from '../../src/events/event-store.ts'
import { AggregateCache, foldEvents } from '../../src/events/fold.ts'
import { available, wallet } from '../../src/events/wallet.ts'
import { testMetadata } from '../helpers/events.ts'

const credit = (walletId: string, amount: string): NewEvent => ({
  id: randomUUID(),
  type: 'FundsCredited',
  data: { walletId, operationId: randomUUID(), amount, source: 'deposit' },
  metadata: testMetadata(),
})

/** A store that counts how many events each readStream returned. */
function counting(inner: EventStore) {
  const reads: { from: number | undefined; got: number }[] = []
  const store = Object.assign(Object.create(inner) as EventStore, {
    readStream: async (stream: string, options?: ReadStreamOptions) => {
      const events = await inner.readStream(stream, options)
      reads.push({ from: options?.fromRevision, got: events.length })
      return events
    },
  })
  return { store, reads }
}

t.test('a cold load folds in pages; a warm one reads only the events after the cached revision', async (t) => {
  const inner = new MemoryEventStore()
  const walletId = randomUUID()
  const stream = wallet.streamName(walletId)
  await inner.append(stream, [{ id: randomUUID(), type: 'WalletCreationRequested', data: { walletId, ownerId: 'o' }, metadata: testMetadata() }], { expected: 'no_stream' })
  for (let i = 0; i < 25; i++) await inner.append(stream, Array.from({ length: 100 }, () => credit(walletId, '1')), { expected: 'any' })
  const { store, reads } = counting(inner)
  const cache = new AggregateCache()

  const cold = await cache.load(store, wallet, walletId)
  t.equal(cold.revision, 2500)
  t.equal(available(cold.state), 2500n)
  t.same(reads.map((r) => r.got), [1000, 1000, 501], 'three pages of at most 1,000 events')
  t.same(cold.state, foldEvents(wallet, await inner.readStream(stream)), 'the same state as one fold of the whole stream')

  reads.length = 0
  await inner.append(stream, [credit(walletId, '5')], { expected: 2500 })
  const warm = await cache.load(store, wallet, walletId)
  t.same(reads, [{ from: 2501, got: 1 }], 'a warm load reads only what another writer appended')
  t.equal(available(warm.state), 2505n)
  t.equal(warm.revision, 2501)

  reads.length = 0
  await cache.load(store, wallet, walletId)
  t.same(reads, [{ from: 2502, got: 0 }], 'nothing new: one empty read')
})

t.test('remember keeps the newest state; the cache is bounded, least recently used out', async (t) => {
  const cache = new AggregateCache(2)
  cache.remember('a', { state: 1, revision: 3 })
  cache.remember('a', { state: 0, revision: 2 })
  cache.remember('b', { state: 2, revision: 0 })
  cache.remember('c', { state: 3, revision: 0 })
  t.equal(cache.size, 2)
  const inner = new MemoryEventStore()
  const { store, reads } = counting(inner)
  await cache.load(store, { ...wallet, streamName: (id: string) => id }, 'a')
  t.same(reads, [{ from: 0, got: 0 }], 'a, the oldest, was dropped and is read from the start')
})
