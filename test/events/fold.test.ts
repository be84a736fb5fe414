import { randomUUID } from 'node:crypto'
import t from 'tap'
import { MemoryEventStore } from '../../src/adapters/event-store/memory.ts'
import type { NewEvent, StreamRead } from '../../src/events/event-store.ts'
import type { StreamType } from '../../src/events/event.ts'
import { AggregateCache, foldEvents, type AnyEvent } from '../../src/events/fold.ts'
import { available, wallet } from '../../src/events/wallet.ts'
import { countingReads, testMetadata } from '../helpers/events.ts'

const credit = (walletId: string, amount: string): NewEvent => ({
  id: randomUUID(),
  type: 'FundsCredited',
  data: { walletId, operationId: randomUUID(), amount, source: 'deposit' },
  metadata: testMetadata(),
})

t.test('a cold load folds in pages; a warm one reads only the events after the cached revision', async (t) => {
  const inner = new MemoryEventStore()
  const walletId = randomUUID()
  const stream = wallet.streamName(walletId)
  await inner.append(stream, [{ id: randomUUID(), type: 'WalletCreationRequested', data: { walletId, ownerId: 'o' }, metadata: testMetadata() }], { expected: 'no_stream' })
  for (let i = 0; i < 25; i++) await inner.append(stream, Array.from({ length: 100 }, () => credit(walletId, '1')), { expected: 'any' })
  const { store, reads } = countingReads(inner)
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
  const { store, reads } = countingReads(inner)
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
  const { store, reads } = countingReads(inner)
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

  const plain = countingReads(inner)
  const fallback = await new AggregateCache().loadMany(plain.store, [{ type: wallet, id: a }, { type: wallet, id: b }])
  t.same(fallback.map((f) => f.revision), [0, 1])
  t.same(plain.reads, [{ from: 0, got: 1 }, { from: 0, got: 2 }], 'without readStreams the streams are read one by one')
})

t.test('a stream with more than a page to fold starts from a snapshot past the page; a short one never asks', async (t) => {
  const inner = new MemoryEventStore()
  const [long, short] = [randomUUID(), randomUUID()]
  for (const id of [long, short]) {
    await inner.append(wallet.streamName(id), [{ id: randomUUID(), type: 'WalletCreationRequested', data: { walletId: id, ownerId: 'o' }, metadata: testMetadata() }], { expected: 'no_stream' })
  }
  await inner.append(wallet.streamName(long), Array.from({ length: 2500 }, () => credit(long, '1')), { expected: 0 })
  await inner.append(wallet.streamName(short), Array.from({ length: 998 }, () => credit(short, '1')), { expected: 0 })
  const all = await inner.readStream(wallet.streamName(long))
  const whole = foldEvents(wallet, all)
  // A snapshot folded by the same evolve up to `at`, as a read model's row is.
  const asked: string[] = []
  const snapshotAt = (at: number | undefined, position = (r: number) => all[r]!.position) => async (type: StreamType<unknown, AnyEvent>, id: string) => {
    asked.push(`${type.category}:${id === long ? 'long' : 'short'}`)
    return at === undefined ? undefined : { state: foldEvents(wallet, all.slice(0, at + 1)), revision: at, position: position(at) }
  }

  const { store, reads } = countingReads(inner)
  const cache = new AggregateCache()
  cache.snapshots = snapshotAt(2400)
  const folded = await cache.load(store, wallet, long)
  t.same(asked, ['wallet:long'], 'asked once, with the stream type and id')
  t.same(reads, [{ from: 0, got: 1000 }, { from: 2400, got: 101 }], 'one page, then the snapshot\'s own event (to check it) and those after it')
  t.equal(folded.revision, 2500)
  t.strictSame(folded.state, whole, 'the same state as one fold of the whole stream')

  asked.length = 0
  reads.length = 0
  await cache.load(store, wallet, short)
  t.same(asked, [], 'a stream that fits in a page never asks')
  t.same(reads, [{ from: 0, got: 999 }])

  t.same(cache.snapshotLoads, { used: 1, unusable: 0, failed: 0 }, 'counted as a load from a snapshot')

  const cases = [
    ['a snapshot at the first page\'s last event', snapshotAt(999), [1000, 1001, 501], 'used'],
    ['a snapshot behind the first page', snapshotAt(500), [1000, 1000, 501], 'unusable'],
    ['no snapshot', snapshotAt(undefined), [1000, 1000, 501], 'unusable'],
    ['a snapshot past the stream\'s head (another store\'s)', snapshotAt(2600, () => '99999'), [1000, 0, 1000, 501], 'unusable'],
    ['a snapshot whose position is not its event\'s', snapshotAt(2400, () => '1'), [1000, 101, 1000, 501], 'unusable'],
    ['a snapshot that cannot be read', async () => Promise.reject(new Error('read models unavailable')), [1000, 1000, 501], 'failed'],
  ] as const
  for (const [why, source, pages, outcome] of cases) {
    asked.length = 0
    reads.length = 0
    const fresh = new AggregateCache()
    fresh.snapshots = source
    const again = await fresh.load(store, wallet, long)
    t.same(reads.map((r) => r.got), pages, `${why}: ${pages.length} reads`)
    t.strictSame(again.state, whole, `${why}: the state of the whole stream`)
    t.equal(again.revision, 2500)
    t.same(fresh.snapshotLoads, { used: 0, unusable: 0, failed: 0, [outcome]: 1 }, `${why}: counted as ${outcome}`)
  }
})
