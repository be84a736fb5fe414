import { randomUUID } from 'node:crypto'
import t from 'tap'
import { MemoryEventStore } from '../../src/adapters/event-store/memory.ts'
import type { EventStore, NewEvent, ReadStreamOptions, StreamRead } from '../../src/events/event-store.ts'
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

t.test('loadMany reads several streams in one call where the store can, each from its cached revision', async (t) => {
  const inner = new MemoryEventStore()
  const [a, b, long] = [randomUUID(), randomUUID(), randomUUID()]
  for (const id of [a, b, long]) {
    await inner.append(wallet.streamName(id), [{ id: randomUUID(), type: 'WalletCreationRequested', data: { walletId: id, ownerId: 'o' }, metadata: testMetadata() }], { expected: 'no_stream' })
  }
  await inner.append(wallet.streamName(b), [credit(b, '7')], { expected: 0 })
  await inner.append(wallet.streamName(long), Array.from({ length: 1200 }, () => credit(long, '1')), { expected: 0 })
  const { store, reads } = counting(inner)
  const batches: StreamRead[][] = []
  const batching = Object.assign(store, {
    // Several streams per call, as the PostgreSQL store answers them.
    readStreams: async (asked: readonly StreamRead[], maxCount: number) => {
      batches.push([...asked])
      return Promise.all(asked.map((r) => inner.readStream(r.stream, { fromRevision: r.fromRevision, maxCount })))
    },
  })
  const cache = new AggregateCache()
  cache.remember(wallet.streamName(b), { state: foldEvents(wallet, (await inner.readStream(wallet.streamName(b))).slice(0, 1)), revision: 0 })

  const folded = await cache.loadMany(batching, [
    { type: wallet, id: a },
    { type: wallet, id: b },
    { type: wallet, id: a },
    { type: wallet, id: long },
  ])
  t.same(
    batches,
    [[{ stream: wallet.streamName(a), fromRevision: 0 }, { stream: wallet.streamName(b), fromRevision: 1 }, { stream: wallet.streamName(long), fromRevision: 0 }]],
    'one call: a stream asked twice is read once, a cached one from after its revision',
  )
  t.same(reads, [{ from: 1000, got: 201 }], 'only the stream with more than a page of new events goes on alone')
  t.same(folded.map((f) => f.revision), [0, 1, 0, 1200])
  t.equal(folded[0], folded[2], 'the stream asked twice has one answer')
  t.equal(available(folded[1]!.state as never), 7n, 'the cached state topped up with the new event')
  t.equal(available(folded[3]!.state as never), 1200n)
  t.same(folded[3]!.state, foldEvents(wallet, await inner.readStream(wallet.streamName(long))))

  batches.length = 0
  reads.length = 0
  await new AggregateCache().loadMany(batching, [{ type: wallet, id: b }])
  t.same(batches, [], 'one stream alone is not a batch')
  t.same(reads, [{ from: 0, got: 2 }], 'it takes the plain read')

  const plain = counting(inner)
  const fallback = await new AggregateCache().loadMany(plain.store, [{ type: wallet, id: a }, { type: wallet, id: b }])
  t.same(fallback.map((f) => f.revision), [0, 1])
  t.same(plain.reads, [{ from: 0, got: 1 }, { from: 0, got: 2 }], 'without readStreams the streams are read one by one')
})
