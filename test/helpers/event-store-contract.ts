import { randomUUID } from 'node:crypto'
import type { Test } from 'tap'
import { EventIdConflict, WrongExpectedVersion, type EventStore, type Position, type RecordedEvent } from '../../src/events/event-store.ts'
import { newEvent, newEvents, testMetadata } from './events.ts'

const streamName = (prefix = 'contract') => `${prefix}-${randomUUID()}`

async function collect(store: EventStore, after: Position | undefined, until: (events: RecordedEvent[]) => boolean, filter?: { streamPrefixes?: string[]; types?: string[] }) {
  const controller = new AbortController()
  const events: RecordedEvent[] = []
  const checkpoints: Position[] = []
  const timer = setTimeout(() => controller.abort(), 10_000)
  for await (const batch of store.subscribe({ after, filter, signal: controller.signal, batchSize: 3 })) {
    events.push(...batch.events)
    checkpoints.push(batch.checkpoint)
    if (until(events)) break
  }
  clearTimeout(timer)
  return { events, checkpoints, timedOut: controller.signal.aborted }
}

/** The event store contract (docs/architecture.md, "Contracts"), run against every adapter. */
export async function eventStoreContract(t: Test, store: EventStore): Promise<void> {
  await t.test('expected revision rules', async (t) => {
    const s = streamName()
    const first = await store.append(s, [newEvent()], { expected: 'no_stream' })
    t.equal(first.revision, 0, 'no_stream on a new stream writes revision 0')
    const err = await store.append(s, [newEvent()], { expected: 'no_stream' }).catch((e: unknown) => e)
    t.ok(err instanceof WrongExpectedVersion, 'no_stream on an existing stream is rejected')
    t.equal((err as WrongExpectedVersion).actual, 0, 'the error carries the actual revision')
    const missing = await store.append(streamName(), [newEvent()], { expected: 'stream_exists' }).catch((e: unknown) => e)
    t.ok(missing instanceof WrongExpectedVersion, 'stream_exists on a missing stream is rejected')
    t.equal((missing as WrongExpectedVersion).actual, -1, 'a missing stream reports revision -1')
    t.equal((await store.append(s, [newEvent()], { expected: 'stream_exists' })).revision, 1, 'stream_exists on an existing stream appends')
    t.equal((await store.append(s, newEvents(2), { expected: 1 })).revision, 3, 'the exact revision appends')
    const stale = await store.append(s, [newEvent()], { expected: 1 }).catch((e: unknown) => e)
    t.ok(stale instanceof WrongExpectedVersion, 'a stale revision is rejected')
    t.equal((stale as WrongExpectedVersion).actual, 3)
    t.equal((await store.append(s, [newEvent()], { expected: 'any' })).revision, 4, 'any always appends')
    t.equal((await store.readStream(s)).length, 5, 'rejected appends wrote nothing')
  })

  await t.test('exactly one of two concurrent appends with the same expectation wins', async (t) => {
    for (const expected of ['no_stream', 0] as const) {
      const s = streamName()
      if (expected === 0) await store.append(s, [newEvent()], { expected: 'no_stream' })
      const results = await Promise.allSettled(Array.from({ length: 8 }, () => store.append(s, [newEvent()], { expected })))
      t.equal(results.filter((r) => r.status === 'fulfilled').length, 1, `one winner with expected ${expected}`)
      t.ok(
        results.every((r) => r.status === 'fulfilled' || r.reason instanceof WrongExpectedVersion),
        'every loser gets WrongExpectedVersion',
      )
    }
  })

  await t.test('re-appending the same event ids is an idempotent no-op returning the original result', async (t) => {
    const s = streamName()
    const events = newEvents(2)
    const original = await store.append(s, events, { expected: 'no_stream' })
    await store.append(s, [newEvent()], { expected: 1 })
    const again = await store.append(s, events, { expected: 'no_stream' })
    t.same(again, original, 'same ids with a stale expectation return the original result')
    t.equal((await store.readStream(s)).length, 3, 'nothing was written twice')
    const partial = await store.append(s, [events[0]!, newEvent()], { expected: 'any' }).catch((e: unknown) => e)
    t.ok(partial instanceof EventIdConflict, 'a mix of written and new ids is a conflict')
    t.equal((await store.readStream(s)).length, 3, 'the conflicting append wrote nothing')
  })

  await t.test('revisions are contiguous and streams read forwards and backwards', async (t) => {
    const s = streamName()
    await store.append(s, newEvents(3), { expected: 'no_stream' })
    await store.append(s, newEvents(4), { expected: 2 })
    const forwards = await store.readStream(s)
    t.same(forwards.map((e) => e.revision), [0, 1, 2, 3, 4, 5, 6])
    const backwards = await store.readStream(s, { direction: 'backwards' })
    t.same(backwards.map((e) => e.revision), [6, 5, 4, 3, 2, 1, 0])
    t.same((await store.readStream(s, { fromRevision: 4, maxCount: 2 })).map((e) => e.revision), [4, 5])
    t.same((await store.readStream(s, { direction: 'backwards', fromRevision: 2, maxCount: 2 })).map((e) => e.revision), [2, 1])
    t.same(await store.readStream(streamName()), [], 'an unknown stream reads as empty')
  })

  await t.test('metadata and data round-trip', async (t) => {
    const s = streamName()
    const metadata = testMetadata({ requestId: 'req-1', idempotencyKey: 'key-1', actor: 'backend' })
    const event = newEvent('MintRequested', { amount: '10500000', nested: { ok: true, list: [1, 'two'] } }, metadata)
    await store.append(s, [event], { expected: 'no_stream' })
    const [read] = await store.readStream(s)
    t.equal(read?.id, event.id)
    t.equal(read?.type, 'MintRequested')
    t.same(read?.data, event.data)
    t.same(read?.metadata, metadata)
    t.equal(read?.stream, s)
    t.ok(read && !Number.isNaN(Date.parse(read.recordedAt)), 'recordedAt is an ISO time')
  })

  await t.test('readAll is strictly increasing, exclusive of the checkpoint, and resumes without repeat or skip', async (t) => {
    const start = await store.head()
    const s1 = streamName()
    const s2 = streamName()
    const written: string[] = []
    for (let i = 0; i < 5; i++) {
      const a = newEvent()
      const b = newEvent()
      await store.append(s1, [a], { expected: 'any' })
      await store.append(s2, [b], { expected: 'any' })
      written.push(a.id, b.id)
    }
    const all = await store.readAll({ after: start, maxCount: 1000 })
    t.same(all.events.map((e) => e.id), written, 'every event once, in commit order')
    for (let i = 1; i < all.events.length; i++) t.ok(all.events[i]!.position > all.events[i - 1]!.position || store.distance(all.events[i - 1]!.position, all.events[i]!.position)! > 0)
    for (let cut = 0; cut < all.events.length; cut++) {
      const resumed = await store.readAll({ after: all.events[cut]!.position, maxCount: 1000 })
      t.same(resumed.events.map((e) => e.id), written.slice(cut + 1), `resume after event ${cut}`)
    }
    let after = start
    const paged: string[] = []
    for (;;) {
      const page = await store.readAll({ after, maxCount: 3 })
      if (page.events.length === 0) break
      paged.push(...page.events.map((e) => e.id))
      after = page.checkpoint
    }
    t.same(paged, written, 'paging by 3 neither repeats nor skips')
  })

  await t.test('a filtered read still advances its checkpoint', async (t) => {
    const start = await store.head()
    const prefix = `flt${randomUUID().slice(0, 8)}`
    await store.append(streamName('other'), newEvents(3), { expected: 'any' })
    const page = await store.readAll({ after: start, filter: { streamPrefixes: [`${prefix}-`] } })
    t.same(page.events, [], 'nothing matches')
    t.not(page.checkpoint, start, 'but the checkpoint moved past what was scanned')
    const mine = newEvent('Kept')
    await store.append(streamName(prefix), [mine, newEvent('Dropped')], { expected: 'any' })
    const next = await store.readAll({ after: page.checkpoint, filter: { streamPrefixes: [`${prefix}-`], types: ['Kept'] } })
    t.same(next.events.map((e) => e.id), [mine.id], 'stream prefix and type filters combine')
  })

  await t.test('subscribe catches up then delivers live appends, in order, after the checkpoint', async (t) => {
    const start = await store.head()
    const s = streamName()
    const before = newEvents(4)
    await store.append(s, before, { expected: 'no_stream' })
    const live = newEvents(3)
    const collecting = collect(store, start, (events) => events.length >= 7)
    setTimeout(() => void store.append(s, live, { expected: 3 }), 100)
    const { events, timedOut } = await collecting
    t.notOk(timedOut, 'live events arrived')
    t.same(events.map((e) => e.id), [...before, ...live].map((e) => e.id))
    const resumed = await collect(store, events[1]!.position, (got) => got.length >= 5)
    t.same(resumed.events.map((e) => e.id), [...before, ...live].slice(2).map((e) => e.id), 'resuming skips nothing and repeats nothing')
  })

  await t.test('a filtered subscription yields checkpoints while skipping events', async (t) => {
    const start = await store.head()
    const prefix = `sub${randomUUID().slice(0, 8)}`
    await store.append(streamName('noise'), newEvents(5), { expected: 'any' })
    const wanted = newEvent()
    setTimeout(() => void store.append(streamName(prefix), [wanted], { expected: 'any' }), 100)
    const got = await collect(store, start, (events) => events.length >= 1, { streamPrefixes: [`${prefix}-`] })
    t.same(got.events.map((e) => e.id), [wanted.id])
    t.ok(got.checkpoints.length >= 1)
    t.equal(got.checkpoints.at(-1), got.events.at(-1)!.position, 'the last checkpoint is the delivered event')
  })

  await t.test('a multi-stream append is all or nothing', async (t) => {
    const a = streamName()
    const b = streamName()
    await store.append(b, [newEvent()], { expected: 'no_stream' })
    const err = await store
      .appendMulti([
        { stream: a, events: [newEvent()], expected: 'no_stream' },
        { stream: b, events: [newEvent()], expected: 'no_stream' },
      ])
      .catch((e: unknown) => e)
    t.ok(err instanceof WrongExpectedVersion, 'a conflict on one stream fails the whole append')
    t.equal((err as WrongExpectedVersion).stream, b)
    t.same(await store.readStream(a), [], 'the other stream got nothing')
    const events = [newEvent(), newEvent()]
    const ok = await store.appendMulti([
      { stream: a, events: [events[0]!], expected: 'no_stream' },
      { stream: b, events: [events[1]!], expected: 0 },
    ])
    t.same(ok.map((r) => [r.stream, r.revision]), [[a, 0], [b, 1]])
    const replay = await store.appendMulti([
      { stream: a, events: [events[0]!], expected: 'no_stream' },
      { stream: b, events: [events[1]!], expected: 0 },
    ])
    t.same(replay, ok, 'replaying a multi-stream append returns the original result')
  })
}
