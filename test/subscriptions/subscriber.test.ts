import { randomUUID } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { sql } from 'kysely'
import t from 'tap'
import { PostgresEventStore } from '../../src/adapters/event-store/postgres.ts'
import type { RecordedEvent } from '../../src/events/event-store.ts'
import { CheckpointMoved, readCheckpoint, saveCheckpoint, Subscriber } from '../../src/subscriptions/subscriber.ts'
import { until } from '../helpers/circle.ts'
import { advisoryLockHolder, terminateLockHolder, testDatabase } from '../helpers/database.ts'
import { newEvent, newEvents } from '../helpers/events.ts'

const { db, pool } = await testDatabase(t)
const store = new PostgresEventStore(pool, { pollIntervalMs: 100 })
t.teardown(() => store.close())
await sql`CREATE TABLE seen (event_id uuid NOT NULL, subscriber text NOT NULL, PRIMARY KEY (event_id, subscriber))`.execute(db)

/** An at-least-once subscriber that takes the lease `subscriber:<name>`. */
const leased = (name: string, handle: (events: RecordedEvent[], signal: AbortSignal) => Promise<void>) =>
  new Subscriber({ name, store, db, leasePool: pool, leaseRetryMs: 100, mode: 'at-least-once', handle })

const seenBy = async (name: string) =>
  (await sql<{ n: string }>`SELECT count(*) AS n FROM seen WHERE subscriber = ${name}`.execute(db)).rows[0]!.n

t.test('a transactional subscriber writes and checkpoints together, and resumes without repeats', async (t) => {
  const name = `proj-${randomUUID()}`
  const make = () =>
    new Subscriber({
      name,
      store,
      db,
      mode: 'exactly-once',
      batchSize: 7,
      handle: async (trx, events) => {
        for (const e of events) await sql`INSERT INTO seen VALUES (${e.id}, ${name})`.execute(trx)
      },
    })
  const first = make()
  const written = await store.append(`sub-${randomUUID()}`, newEvents(20), { expected: 'no_stream' })
  first.start()
  await first.caughtUp(written.position)
  await first.stop()
  t.equal(await seenBy(name), '20')
  t.equal(await readCheckpoint(db, name), written.position, 'the checkpoint is the last event')
  const more = await store.append(`sub-${randomUUID()}`, newEvents(5), { expected: 'no_stream' })
  const second = make()
  second.start()
  await second.caughtUp(more.position)
  t.equal((await second.status()).lag, 0, 'lag is zero once caught up')
  await second.stop()
  t.equal(await seenBy(name), '25', 'a restart resumes after the checkpoint (a repeat would violate the primary key)')
})

t.test('onCommitted runs after the batch committed: another connection already sees what the handler wrote', async (t) => {
  const name = `committed-${randomUUID()}`
  const visible: string[] = []
  const stream = `committed-${randomUUID()}`
  const sub = new Subscriber({
    name,
    store,
    db,
    mode: 'exactly-once',
    filter: { streamPrefixes: [stream] },
    handle: async (trx, events) => {
      for (const e of events) await sql`INSERT INTO seen VALUES (${e.id}, ${name})`.execute(trx)
    },
    // The pool's other connections (not the batch's transaction) count the rows.
    onCommitted: (events) => void seenBy(name).then((n) => visible.push(`${events.length}:${n}`)),
  })
  const written = await store.append(stream, newEvents(3), { expected: 'no_stream' })
  sub.start()
  await sub.caughtUp(written.position)
  await until(async () => visible.length > 0)
  await sub.stop()
  t.same(visible, ['3:3'], 'called once, with the batch, when its rows were visible')
})

t.test('batches with nothing to handle commit nothing until idle, and a restart from the stored checkpoint repeats nothing', async (t) => {
  const name = `filtered-${randomUUID()}`
  const type = `Wanted${randomUUID().slice(0, 8)}`
  const commits: string[] = []
  const make = () =>
    new Subscriber({
      name,
      store,
      db,
      mode: 'exactly-once',
      filter: { types: [type] },
      batchSize: 5,
      checkpointIdleMs: 300,
      handle: async (trx, events) => {
        for (const e of events) await sql`INSERT INTO seen VALUES (${e.id}, ${name})`.execute(trx)
      },
    })
  const wanted = await store.append(`sub-${randomUUID()}`, [newEvent(type)], { expected: 'no_stream' })
  const first = make()
  first.start()
  await first.caughtUp(wanted.position)
  await until(async () => (await readCheckpoint(db, name)) === wanted.position, 5000, 'the handled batch stores its checkpoint')
  // Events it does not handle, one append at a time: each is a batch with nothing in it.
  let last = wanted.position
  for (let i = 0; i < 6; i++) {
    last = (await store.append(`sub-${randomUUID()}`, [newEvent('Other')], { expected: 'no_stream' })).position
    await first.caughtUp(last)
    commits.push((await readCheckpoint(db, name))!)
  }
  t.equal(commits[0], wanted.position, 'an empty batch right after a stored one leaves the stored checkpoint where it was')
  t.equal((await first.status()).checkpoint, last, 'the position in memory follows every batch (read-your-writes and lag use it)')
  await until(async () => (await readCheckpoint(db, name)) === last, 5000, 'the idle checkpoint stored')
  t.pass('once idle, the stored checkpoint catches up')
  // A crash while the position in memory is ahead of the stored one leaves the row at the last
  // batch that handled something: restarting there reads only events that need nothing again.
  const more = await store.append(`sub-${randomUUID()}`, [newEvent('Other'), newEvent(type)], { expected: 'no_stream' })
  await first.caughtUp(more.position)
  const others = await store.append(`sub-${randomUUID()}`, [newEvent('Other'), newEvent('Other')], { expected: 'no_stream' })
  await first.caughtUp(others.position)
  await first.stop()
  t.equal(await readCheckpoint(db, name), others.position, 'a stop stores where it got to')
  await sql`UPDATE checkpoints SET position = ${more.position} WHERE name = ${name}`.execute(db)
  const after = await store.append(`sub-${randomUUID()}`, [newEvent(type)], { expected: 'no_stream' })
  const second = make()
  second.start()
  await second.caughtUp(after.position)
  await second.stop()
  t.equal(await seenBy(name), '3', 'each wanted event handled once, across the restart from a lagging checkpoint')
})

t.test('a failing handler rolls back its writes and is retried from the same checkpoint', async (t) => {
  const name = `flaky-${randomUUID()}`
  let failures = 2
  const sub = new Subscriber({
    name,
    store,
    db,
    mode: 'exactly-once',
    retryDelayMs: { first: 10, max: 20 },
    handle: async (trx, events) => {
      for (const e of events) await sql`INSERT INTO seen VALUES (${e.id}, ${name})`.execute(trx)
      if (failures-- > 0) throw new Error('boom')
    },
  })
  const head = (await store.head())!
  sub.start()
  await sub.caughtUp(head)
  await sub.stop()
  t.equal(failures, -1, 'the handler failed twice, then succeeded')
  t.equal(await seenBy(name), String(store.distance(undefined, head)), 'each event exactly once')
})

t.test('only one instance holding the lease runs; the standby takes over when it stops', async (t) => {
  const name = `lease-${randomUUID()}`
  const handled: string[] = []
  const make = (tag: string) => leased(name, async (events) => void handled.push(...events.map(() => tag)))
  const a = make('a')
  const b = make('b')
  a.start()
  await sleep(200)
  b.start()
  const first = await store.append(`lease-${randomUUID()}`, [newEvent()], { expected: 'no_stream' })
  await a.caughtUp(first.position)
  t.equal((await a.status()).active, true)
  t.equal((await b.status()).active, false, 'the second instance waits')
  await a.stop()
  const second = await store.append(`lease-${randomUUID()}`, [newEvent()], { expected: 'no_stream' })
  await b.caughtUp(second.position)
  await b.stop()
  t.ok(handled.filter((x) => x === 'b').length >= 1, 'the standby took over')
  t.equal(await readCheckpoint(db, name), second.position)
})

t.test('an at-least-once handler that retries is told when its instance loses the lease, and stops', async (t) => {
  const name = `lease-lost-${randomUUID()}`
  let seen: AbortSignal | undefined
  // A handler that cannot get its side effect through (NATS down, say) retries until told to stop.
  const subscriber = leased(name, async (_events, signal) => {
    seen = signal
    await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }))
    throw signal.reason
  })
  subscriber.start()
  t.teardown(() => subscriber.stop())
  await store.append(`lease-lost-${randomUUID()}`, [newEvent()], { expected: 'no_stream' })
  await until(async () => seen, 10_000, 'the handler runs')
  t.equal(seen!.aborted, false)
  // The lease's connection ends (a failover, an admin): another instance may take over now.
  t.ok(await advisoryLockHolder(db, `subscriber:${name}`), 'the instance holds its lease')
  await terminateLockHolder(db, `subscriber:${name}`)
  await until(async () => (seen!.aborted ? true : undefined), 10_000, 'the handler is told')
  t.ok(seen!.aborted, 'the handler’s signal aborted when the lease was lost')
})

t.test('a checkpoint moves only from the position the instance read', async (t) => {
  const name = `cas-${randomUUID()}`
  await saveCheckpoint(db, name, undefined, '5')
  await t.rejects(saveCheckpoint(db, name, undefined, '6'), CheckpointMoved, 'a second first-write loses')
  await t.rejects(saveCheckpoint(db, name, '4', '7'), CheckpointMoved, 'a stale from loses')
  await saveCheckpoint(db, name, '5', '8')
  t.equal(await readCheckpoint(db, name), '8')
})
