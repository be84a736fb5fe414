import { randomUUID } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import pg from 'pg'
import t, { type Test } from 'tap'
import { filteredReadSql, filterSql, inPositionOrder, PostgresEventStore } from '../../../src/adapters/event-store/postgres.ts'
import { createPool } from '../../../src/adapters/postgres/database.ts'
import { EventIdConflict, EventStoreUnavailable, WrongExpectedVersion, type AppendResult, type RecordedEvent } from '../../../src/events/event-store.ts'
import { testDatabase } from '../../helpers/database.ts'
import { eventStoreContract } from '../../helpers/event-store-contract.ts'
import { newEvent, testMetadata } from '../../helpers/events.ts'

const { pool, url } = await testDatabase(t)
const store = new PostgresEventStore(pool, { pollIntervalMs: 200, scanWindow: 4 })
t.teardown(() => store.close())

await eventStoreContract(t, store)

t.test('an append transaction held open keeps later commits from being read before it', async (t) => {
  const start = await store.head()
  const held = new pg.Client({ connectionString: url })
  await held.connect()
  t.teardown(() => held.end())
  // Stand in for a slow appender: it has taken the head and written its event, but not committed.
  await held.query('BEGIN')
  const heldId = randomUUID()
  await held.query(
    `WITH h AS (UPDATE event_head SET position = position + 1 WHERE id RETURNING position)
     INSERT INTO events (position, stream, revision, event_id, type, data, metadata)
     SELECT h.position, 'held-1', 0, $1, 'Held', '{}', $2 FROM h`,
    [heldId, JSON.stringify(testMetadata())],
  )
  await held.query(`INSERT INTO streams VALUES ('held-1', 0)`)
  const later = newEvent('Later')
  let laterDone = false
  const appending = store.append(`later-${randomUUID()}`, [later], { expected: 'no_stream' }).then((r) => {
    laterDone = true
    return r
  })
  await sleep(300)
  t.notOk(laterDone, 'the later append waits for the head lock')
  t.same((await store.readAll({ after: start })).events, [], 'a reader sees nothing past the open transaction')
  await held.query('COMMIT')
  await appending
  const after = await store.readAll({ after: start })
  t.same(after.events.map((e) => e.id), [heldId, later.id], 'both arrive, in commit order, none skipped')
  t.equal(store.distance(after.events[0]!.position, after.events[1]!.position), 1, 'positions stay gapless')
})

t.test('a rolled back append leaves no gap in positions', async (t) => {
  const start = await store.head()
  const client = await pool.connect()
  await client.query('BEGIN')
  await client.query('UPDATE event_head SET position = position + 5 WHERE id')
  await client.query('ROLLBACK')
  client.release()
  const r = await store.append(`gap-${randomUUID()}`, [newEvent()], { expected: 'no_stream' })
  t.equal(store.distance(start, r.position), 1)
})

t.test('events are immutable', async (t) => {
  const s = `immutable-${randomUUID()}`
  await store.append(s, [newEvent()], { expected: 'no_stream' })
  await t.rejects(pool.query(`UPDATE events SET type = 'Changed' WHERE stream = $1`, [s]), /immutable/)
  await t.rejects(pool.query(`DELETE FROM events WHERE stream = $1`, [s]), /immutable/)
  await t.rejects(pool.query(`TRUNCATE events`), /immutable/)
  t.equal((await store.readStream(s))[0]?.type, 'Tested')
})

t.test('an unreachable database surfaces as EventStoreUnavailable', async (t) => {
  const deadPool = new pg.Pool({ connectionString: 'postgres://postgres@127.0.0.1:1/none', connectionTimeoutMillis: 500 })
  deadPool.on('error', () => undefined)
  const dead = new PostgresEventStore(deadPool)
  t.teardown(async () => {
    await dead.close()
    await deadPool.end()
  })
  await t.rejects(dead.append('x-1', [newEvent()], { expected: 'any' }), EventStoreUnavailable)
  await t.rejects(dead.head(), EventStoreUnavailable)
})

/** A store that records its batch sizes, so a test can show its appends shared one transaction. */
function batchingStore(t: Test): { store: PostgresEventStore; batches: number[] } {
  const batches: number[] = []
  const batching = new PostgresEventStore(pool, { onBatch: (appends) => batches.push(appends) })
  t.teardown(() => batching.close())
  return { store: batching, batches }
}

t.test('group commit: a batch where one append conflicts fails that append alone', async (t) => {
  const { store: batching, batches } = batchingStore(t)
  const taken = `taken-${randomUUID()}`
  await batching.append(taken, [newEvent()], { expected: 'no_stream' })
  const start = await batching.head()
  batches.length = 0
  const fresh = Array.from({ length: 4 }, () => `fresh-${randomUUID()}`)
  const raced = `raced-${randomUUID()}`
  // Issued in one tick, so they form one batch.
  const settled = await Promise.allSettled([
    ...fresh.slice(0, 2).map((s) => batching.append(s, [newEvent()], { expected: 'no_stream' })),
    batching.append(taken, [newEvent()], { expected: 'no_stream' }),
    batching.append(raced, [newEvent()], { expected: 'no_stream' }),
    batching.append(raced, [newEvent()], { expected: 'no_stream' }),
    ...fresh.slice(2).map((s) => batching.append(s, [newEvent()], { expected: 'no_stream' })),
  ])
  t.same(batches, [7], 'the seven appends shared one batch')
  const [a, b, stale, raceWin, raceLose, c, d] = settled
  for (const r of [a, b, c, d, raceWin]) t.equal(r!.status, 'fulfilled', 'a batch-mate of the conflicts is written')
  t.ok(stale!.status === 'rejected' && stale!.reason instanceof WrongExpectedVersion && stale!.reason.actual === 0, 'the stale append gets WrongExpectedVersion with the actual revision')
  t.ok(raceLose!.status === 'rejected' && raceLose!.reason instanceof WrongExpectedVersion && raceLose!.reason.actual === 0, 'of two no_stream appends to one new stream in a batch, the second loses')
  t.equal((await batching.readStream(taken)).length, 1, 'the conflicting append wrote nothing')
  t.equal((await batching.readStream(raced)).length, 1, 'the raced stream got one event')
  const all = await batching.readAll({ after: start })
  t.equal(all.events.length, 5, 'five events written')
  t.same(all.events.map((e) => batching.distance(start, e.position)), [1, 2, 3, 4, 5], 'positions stay gapless')
  const positions = [a, b, raceWin, c, d].map((r) => (r as PromiseFulfilledResult<AppendResult>).value.position)
  t.same(positions, all.events.map((e) => e.position), 'each append got its own position, in queue order')
  const rows = await pool.query<{ stream: string; revision: number }>('SELECT stream, revision FROM streams WHERE stream = ANY($1) ORDER BY stream', [[...fresh, raced, taken]])
  t.ok(rows.rows.every((r) => r.revision === 0), 'every stream row holds its real revision')
})

t.test('group commit: a batch where one append repeats known ids returns the original result', async (t) => {
  const { store: batching, batches } = batchingStore(t)
  const s = `replayed-${randomUUID()}`
  const events = [newEvent(), newEvent()]
  const original = await batching.append(s, events, { expected: 'no_stream' })
  const third = newEvent()
  await batching.append(s, [third], { expected: 1 })
  batches.length = 0
  const other = `other-${randomUUID()}`
  const twice = [newEvent()]
  const settled = await Promise.allSettled([
    batching.append(`new-${randomUUID()}`, [newEvent()], { expected: 'no_stream' }),
    batching.append(s, events, { expected: 'no_stream' }),
    batching.append(s, [third, newEvent()], { expected: 'any' }),
    batching.append(other, twice, { expected: 'any' }),
    batching.append(other, twice, { expected: 'any' }),
    batching.append(`new-${randomUUID()}`, [newEvent()], { expected: 'no_stream' }),
  ])
  t.same(batches, [5, 1], 'five appends shared one batch; the one repeating a batch-mate\'s new ids waited for the next')
  const [first, replay, partial, once, again, last] = settled
  t.equal(first!.status, 'fulfilled')
  t.equal(last!.status, 'fulfilled')
  t.same(replay, { status: 'fulfilled', value: original }, 'the known ids return the original result despite a stale expectation')
  t.ok(partial!.status === 'rejected' && partial.reason instanceof EventIdConflict, 'a mix of known and new ids is a conflict, alone')
  t.equal(once!.status, 'fulfilled')
  t.same(again, once, 'the same new ids sent twice at once are written once and both get that result')
  t.equal((await batching.readStream(s)).length, 3, 'nothing was written twice to the replayed stream')
  t.equal((await batching.readStream(other)).length, 1, 'the ids sent twice were written once')
})

t.test('group commit: a multi-stream append in a batch stays atomic', async (t) => {
  const { store: batching, batches } = batchingStore(t)
  const shared = `shared-${randomUUID()}`
  await batching.append(shared, [newEvent()], { expected: 'no_stream' })
  batches.length = 0
  const [x, y, z] = [`x-${randomUUID()}`, `y-${randomUUID()}`, `z-${randomUUID()}`]
  const settled = await Promise.allSettled([
    batching.appendMulti([
      { stream: x, events: [newEvent()], expected: 'no_stream' },
      { stream: shared, events: [newEvent(), newEvent()], expected: 0 },
    ]),
    batching.appendMulti([
      { stream: y, events: [newEvent()], expected: 'no_stream' },
      { stream: shared, events: [newEvent()], expected: 0 },
    ]),
    batching.append(z, [newEvent()], { expected: 'no_stream' }),
  ])
  t.same(batches, [3], 'the three appends shared one batch')
  const [won, lost, single] = settled
  t.same(
    won!.status === 'fulfilled' && won.value.map((r) => [r.stream, r.revision]),
    [[x, 0], [shared, 2]],
    'the first multi-stream append wrote both streams',
  )
  t.ok(lost!.status === 'rejected' && lost.reason instanceof WrongExpectedVersion && lost.reason.stream === shared && lost.reason.actual === 2, 'the second, stale on one stream, fails with the revision its batch-mate left')
  t.same(await batching.readStream(y), [], 'its other stream got nothing')
  t.equal((await pool.query('SELECT 1 FROM streams WHERE stream = $1', [y])).rowCount, 0, 'and has no stream row')
  t.equal(single!.status, 'fulfilled', 'the single append beside them is written')
  t.equal((await batching.readStream(shared)).length, 3)
})

t.test('group commit: a connection lost mid-batch fails every append in it and writes nothing', async (t) => {
  const { store: batching, batches } = batchingStore(t)
  const start = await batching.head()
  const held = new pg.Client({ connectionString: url })
  await held.connect()
  t.teardown(() => held.end())
  // Holding the head keeps the batch open at its last statement, with its stream rows written.
  await held.query('BEGIN')
  await held.query('UPDATE event_head SET position = position WHERE id')
  batches.length = 0
  const streams = Array.from({ length: 4 }, () => `lost-${randomUUID()}`)
  const appending = Promise.allSettled(streams.map((s) => batching.append(s, [newEvent()], { expected: 'no_stream' })))
  let flusher: number | undefined
  for (let i = 0; i < 100 && flusher === undefined; i++) {
    await sleep(20)
    const res = await held.query<{ pid: number }>(
      `SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()`,
    )
    flusher = res.rows[0]?.pid
  }
  t.ok(flusher, 'the batch is waiting for the head')
  t.same(batches, [4], 'the four appends are one batch')
  await held.query('SELECT pg_terminate_backend($1)', [flusher])
  const settled = await appending
  t.ok(settled.every((r) => r.status === 'rejected' && r.reason instanceof EventStoreUnavailable), 'every caller gets EventStoreUnavailable')
  await held.query('ROLLBACK')
  t.equal(await batching.head(), start, 'the head did not move')
  t.equal((await pool.query('SELECT 1 FROM events WHERE stream = ANY($1)', [streams])).rowCount, 0, 'no event was written')
  t.equal((await pool.query('SELECT 1 FROM streams WHERE stream = ANY($1)', [streams])).rowCount, 0, 'no stream row was written')
  const retried = await Promise.all(streams.map((s) => batching.append(s, [newEvent()], { expected: 'no_stream' })))
  t.same(retried.map((r) => r.revision), [0, 0, 0, 0], 'the store recovers and the retries write from revision 0')
})

t.test('group commit: an append the database refuses fails alone', async (t) => {
  const { store: batching, batches } = batchingStore(t)
  batches.length = 0
  const good = `good-${randomUUID()}`
  const settled = await Promise.allSettled([
    batching.append(good, [newEvent()], { expected: 'no_stream' }),
    batching.append(`bad-${randomUUID()}`, [{ ...newEvent(), id: 'not-a-uuid' }], { expected: 'no_stream' }),
    batching.append(`nul-${randomUUID()}`, [newEvent('Tested', { text: 'nul \u0000 inside' })], { expected: 'no_stream' }),
  ])
  t.equal(batches[0], 3, 'the three appends started as one batch')
  t.equal(settled[0]!.status, 'fulfilled', 'the good append is written')
  t.equal(settled[1]!.status, 'rejected', 'a malformed event id fails its own append')
  t.equal(settled[2]!.status, 'rejected', 'text the database refuses fails its own append')
  t.equal((await batching.readStream(good)).length, 1)
})

t.test('group commit: one writer waits for no timer and batches stay bounded', async (t) => {
  const batches: number[] = []
  const bounded = new PostgresEventStore(pool, { onBatch: (appends) => batches.push(appends), maxBatchAppends: 3 })
  t.teardown(() => bounded.close())
  await Promise.all(Array.from({ length: 8 }, () => bounded.append(`bounded-${randomUUID()}`, [newEvent()], { expected: 'no_stream' })))
  t.same(batches, [3, 3, 2], 'eight appends in one tick go in batches of at most three')
  batches.length = 0
  const s = `lone-${randomUUID()}`
  for (let i = 0; i < 3; i++) await bounded.append(s, [newEvent()], { expected: i === 0 ? 'no_stream' : i - 1 })
  t.same(batches, [1, 1, 1], 'a lone writer gets a batch of one each time')
})

t.test('group commit: two store instances racing on the same streams keep the log gapless and every expectation honest', async (t) => {
  // Two instances with their own pools stand in for two processes: their batches interleave and
  // contend for the same stream rows, new ones included.
  const pools = [createPool(url, 4), createPool(url, 4)]
  const stores = pools.map((p) => new PostgresEventStore(p))
  t.teardown(async () => {
    for (const s of stores) await s.close()
    for (const p of pools) await p.end()
  })
  const start = await store.head()
  const streams = Array.from({ length: 6 }, () => `race-${randomUUID()}`)
  let written = 0
  let lost = 0
  await Promise.all(
    Array.from({ length: 16 }, async (_, w) => {
      const mine = stores[w % 2]!
      for (let i = 0; i < 15; i++) {
        const s = streams[(w + i) % streams.length]!
        const current = (await mine.readStream(s, { direction: 'backwards', maxCount: 1 }))[0]?.revision ?? -1
        try {
          await mine.append(s, [newEvent(), newEvent()], { expected: current === -1 ? 'no_stream' : current })
          written += 2
        } catch (err) {
          if (!(err instanceof WrongExpectedVersion)) throw err
          lost++
        }
      }
    }),
  )
  t.ok(written > 0 && lost > 0, `both outcomes happened (${written / 2} written, ${lost} lost a race)`)
  const all = await store.readAll({ after: start, maxCount: 10_000 })
  t.equal(all.events.length, written, 'every acknowledged event is stored, nothing else')
  t.same(all.events.map((e) => store.distance(start, e.position)), all.events.map((_, i) => i + 1), 'positions stay gapless')
  for (const s of streams) {
    const revisions = (await store.readStream(s)).map((e) => e.revision)
    t.same(revisions, revisions.map((_, i) => i), `${s}: revisions are contiguous`)
    const row = await pool.query<{ revision: number }>('SELECT revision FROM streams WHERE stream = $1', [s])
    t.equal(row.rows[0]?.revision ?? -1, revisions.length - 1, `${s}: its stream row holds the last revision`)
  }
})

t.test('group commit: two instances creating the same new stream: exactly one no_stream append wins', async (t) => {
  const pools = [createPool(url, 4), createPool(url, 4)]
  const stores = pools.map((p) => new PostgresEventStore(p))
  t.teardown(async () => {
    for (const s of stores) await s.close()
    for (const p of pools) await p.end()
  })
  for (let round = 0; round < 5; round++) {
    const s = `created-${randomUUID()}`
    const results = await Promise.allSettled(Array.from({ length: 6 }, (_, i) => stores[i % 2]!.append(s, [newEvent()], { expected: 'no_stream' })))
    t.equal(results.filter((r) => r.status === 'fulfilled').length, 1, `round ${round}: one winner`)
    t.ok(results.every((r) => r.status === 'fulfilled' || (r.reason instanceof WrongExpectedVersion && r.reason.actual === 0)), 'the others see revision 0')
  }
})

t.test('group commit: the same append sent to two instances at once is written once and both get its result', async (t) => {
  const pools = [createPool(url, 4), createPool(url, 4)]
  const stores = pools.map((p) => new PostgresEventStore(p))
  t.teardown(async () => {
    for (const s of stores) await s.close()
    for (const p of pools) await p.end()
  })
  for (let round = 0; round < 5; round++) {
    const s = `retried-${randomUUID()}`
    const events = [newEvent(), newEvent()]
    const [a, b] = await Promise.all(stores.map((st) => st.append(s, events, { expected: 'no_stream' })))
    t.same(a, b, `round ${round}: both callers get the one result`)
    t.equal((await store.readStream(s)).length, 2, 'the events were written once')
  }
  const elsewhere = newEvent()
  const settled = await Promise.allSettled([
    stores[0]!.append(`one-${randomUUID()}`, [elsewhere], { expected: 'any' }),
    stores[1]!.append(`two-${randomUUID()}`, [elsewhere], { expected: 'any' }),
  ])
  t.equal(settled.filter((r) => r.status === 'fulfilled').length, 1, 'one id sent to two streams at once is written to one')
  t.ok(settled.some((r) => r.status === 'rejected' && r.reason instanceof EventIdConflict), 'the other gets EventIdConflict')
})

t.test('group commit: close waits for the appends already queued', async (t) => {
  const closing = new PostgresEventStore(pool)
  const streams = Array.from({ length: 5 }, () => `closing-${randomUUID()}`)
  let answered = 0
  const appending = Promise.all(streams.map((s) => closing.append(s, [newEvent()], { expected: 'no_stream' }).finally(() => answered++)))
  await closing.close()
  t.equal(answered, 5, 'every queued append was answered before close returned')
  const results = await appending
  t.same(results.map((r) => r.revision), [0, 0, 0, 0, 0], 'and written')
})

t.test('a filtered read is planned cheaply on a long log: never over the JIT threshold, bounded by the window', async (t) => {
  // Its own database: an unanalyzed event_head (the planner assumes 2,200 rows) and 20,000 events.
  const own = await testDatabase(t)
  const big = new PostgresEventStore(own.pool)
  t.teardown(() => big.close())
  const metadata = testMetadata()
  let revision: number | 'no_stream' = 'no_stream'
  const stream = `long-${randomUUID()}`
  for (let chunk = 0; chunk < 20; chunk++) {
    const events = Array.from({ length: 1000 }, (_, i) => newEvent(i % 2 ? 'FundsDebited' : 'FundsReserved', { i }, metadata))
    revision = (await big.append(stream, events, { expected: revision })).revision
  }
  const { clause, params } = filterSql({ types: ['FundsReserved', 'MintRequested'] }, 4)
  const plan = await own.pool.query<{ 'QUERY PLAN': [{ Plan: { 'Total Cost': number } }] }>(`EXPLAIN (FORMAT JSON) ${filteredReadSql(clause)}`, ['19990', 10_000, 500, ...params])
  const cost = plan.rows[0]!['QUERY PLAN'][0].Plan['Total Cost']
  const jitAbove = Number((await own.pool.query<{ jit_above_cost: string }>('SHOW jit_above_cost')).rows[0]!.jit_above_cost)
  // One index range scan of the window: ~500-1,500. Joined to event_head as a table it was ~10,000
  // here, and ~600,000 with 50,000 events, where it crossed the JIT threshold.
  t.ok(cost < 5_000, `planned cost ${cost} (PostgreSQL JIT-compiles above ${jitAbove})`)
  const read = await big.readAll({ after: '19990', maxCount: 500, filter: { types: ['FundsReserved'] } })
  t.equal(read.events.length, 5, 'the read itself still finds the matching events')
  t.equal(read.checkpoint, '20000')
  const none = await big.readAll({ after: '19990', maxCount: 0, filter: { types: ['FundsReserved'] } })
  t.same(none, { events: [], checkpoint: '19990' }, 'asking for no events moves no checkpoint (nothing in the window is skipped)')
  const top = await own.pool.query<{ 'QUERY PLAN': [{ Plan: { 'Node Type': string } }] }>(`EXPLAIN (FORMAT JSON) ${filteredReadSql(clause)}`, ['0', 10_000, 5000, ...params])
  t.not(top.rows[0]!['QUERY PLAN'][0].Plan['Node Type'], 'Sort', 'the page comes as the window’s read gives it: no sort of the whole page after the join')
  const page = await big.readAll({ after: '0', maxCount: 5000, filter: { types: ['FundsReserved', 'FundsDebited'] } })
  t.same(page.events.map((e) => e.position), Array.from({ length: 5000 }, (_, i) => String(i + 1)), 'a page of 5,000 in position order')
})

t.test('a filtered read scans the window it is given instead of the store’s own; a window that is not a positive integer is refused', async (t) => {
  const own = await testDatabase(t)
  const narrow = new PostgresEventStore(own.pool, { scanWindow: 4 })
  t.teardown(() => narrow.close())
  // Positions 1..12; the type asked for is at 2 and 11 only.
  const events = Array.from({ length: 12 }, (_, i) => newEvent(i === 1 || i === 10 ? 'Wanted' : 'Other', { i }, testMetadata()))
  await narrow.append(`w-${randomUUID()}`, events, { expected: 'no_stream' })
  const filter = { types: ['Wanted'] }
  const byOwn = await narrow.readAll({ maxCount: 10, filter })
  t.same([byOwn.events.map((e) => e.position), byOwn.checkpoint], [['2'], '4'], 'the store’s window: 4 positions scanned')
  const wide = await narrow.readAll({ maxCount: 10, filter, scanWindow: 20 })
  t.same([wide.events.map((e) => e.position), wide.checkpoint], [['2', '11'], '12'], 'a window of 20: up to the head in one read')
  const mid = await narrow.readAll({ after: '2', maxCount: 10, filter, scanWindow: 8 })
  t.same([mid.events.map((e) => e.position), mid.checkpoint], [[], '10'], 'a window of 8 after position 2 ends at 10, short of the next match')
  for (const scanWindow of [0, -1, 1.5, Number.NaN]) {
    await t.rejects(narrow.readAll({ maxCount: 10, filter, scanWindow }), RangeError, `scanWindow ${scanWindow} is refused`)
  }
  await t.rejects(narrow.readAll({ maxCount: 10, scanWindow: 0 }), RangeError, 'refused on an unfiltered read too')
  await t.rejects(narrow.readAll({ maxCount: 0, filter, scanWindow: 0 }), RangeError, 'and on a read asking for nothing')
})

t.test('inPositionOrder: events in order are kept as they are; out of order, sorted as numbers', async (t) => {
  const at = (...positions: string[]) => positions.map((position) => ({ ...newEvent(), position }) as unknown as RecordedEvent)
  const ordered = at('8', '9', '10', '11', '100')
  t.equal(inPositionOrder(ordered), ordered, 'the same array')
  t.same(inPositionOrder(ordered).map((e) => e.position), ['8', '9', '10', '11', '100'])
  t.same(inPositionOrder(at('10', '9', '100', '8', '11')).map((e) => e.position), ['8', '9', '10', '11', '100'], 'sorted by value, not as text')
  t.same(inPositionOrder(at()), [])
})

t.test('a caught-up subscription waits for the next append instead of reading again; a wake during its batch, a window short of the head, a lost LISTEN connection or an abort do not wait', async (t) => {
  // A poll interval longer than the test: only an append's notification can wake it.
  const quiet = createPool(url, 4)
  let reads = 0
  const query = quiet.query.bind(quiet) as (...args: unknown[]) => unknown
  quiet.query = ((...args: unknown[]) => {
    if (/FROM events/.test(String(args[0]))) reads++
    return query(...args)
  }) as typeof quiet.query
  const own = new PostgresEventStore(quiet, { pollIntervalMs: 60_000, scanWindow: 3 })
  t.teardown(async () => {
    await own.close()
    await quiet.end()
  })
  // LISTEN connections of this database other than the new store's (the file's own store has one).
  const listening = async () => (await pool.query<{ pid: number }>(`SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'LISTEN%'`)).rows.map((r) => r.pid)
  const others = await listening()
  const listeners = async () => (await listening()).filter((pid) => !others.includes(pid))
  const prefix = `rest-${randomUUID()}-`
  const start = await own.head()
  const controller = new AbortController()
  t.teardown(() => controller.abort())
  const batches = own.subscribe({ after: start, filter: { streamPrefixes: [prefix] }, batchSize: 10, signal: controller.signal })[Symbol.asyncIterator]()
  const within = <T>(promise: Promise<T>, ms: number) => Promise.race([promise, sleep(ms, 'timed out' as const, { ref: false })])
  /** The types of the next `count` events, batch by batch, each batch within 5 s (a poll would take 60). */
  const typesOf = async (batches: AsyncIterator<{ events: { type: string }[] }>, count: number) => {
    const types: string[] = []
    while (types.length < count) {
      const next = await within(batches.next(), 5000)
      if (next === 'timed out' || next.done) break
      types.push(...next.value.events.map((e) => e.type))
    }
    return types
  }

  // Five events, further than the window reaches: the reader goes on past the window without waiting.
  await own.append(`${prefix}a`, [newEvent('A1'), newEvent('A2'), newEvent('A3'), newEvent('A4'), newEvent('A5')], { expected: 'no_stream' })
  t.same(await typesOf(batches, 5), ['A1', 'A2', 'A3', 'A4', 'A5'], 'read window by window up to the head, none waiting for a poll')

  // Caught up: asking for the next batch reads nothing until an append wakes it.
  const readsCaughtUp = reads
  const pending = batches.next()
  await sleep(300)
  t.equal(reads, readsCaughtUp, 'no read while nothing was appended')
  await own.append(`${prefix}b`, [newEvent('B1')], { expected: 'no_stream' })
  const woken = await within(pending, 5000)
  t.same(woken === 'timed out' || woken.done ? woken : woken.value.events.map((e) => e.type), ['B1'], 'the append wakes it')

  // An append committed while the consumer holds a batch is read at once, not at the next poll.
  await own.append(`${prefix}c`, [newEvent('C1')], { expected: 'no_stream' })
  const held = await within(batches.next(), 5000)
  t.same(held === 'timed out' || held.done ? held : held.value.events.map((e) => e.type), ['C1'])
  await own.append(`${prefix}d`, [newEvent('D1')], { expected: 'no_stream' })
  await sleep(100) // its notification arrives, as a rule, while the batch above is still held
  const during = await within(batches.next(), 5000)
  t.same(during === 'timed out' || during.done ? during : during.value.events.map((e) => e.type), ['D1'], 'appended during the batch: read next')

  // The LISTEN connection lost while a batch is held: nothing can wake the reader, so it reads again at once.
  const [mine, ...more] = await listeners()
  t.ok(mine !== undefined && more.length === 0, 'the store listens on one connection of its own')
  await pool.query('SELECT pg_terminate_backend($1)', [mine])
  await sleep(200)
  await own.append(`${prefix}g`, [newEvent('G1')], { expected: 'no_stream' })
  const afterLoss = await within(batches.next(), 5000)
  t.same(afterLoss === 'timed out' || afterLoss.done ? afterLoss : afterLoss.value.events.map((e) => e.type), ['G1'], 'appended after the LISTEN connection was lost: read without waiting for the poll')

  // Unfiltered, a full batch is not the end: more than a batch of events is read batch by batch without waiting.
  const from = await own.head()
  const all = own.subscribe({ after: from, batchSize: 2, signal: controller.signal })[Symbol.asyncIterator]()
  await own.append(`${prefix}e`, [newEvent('E1'), newEvent('E2'), newEvent('E3'), newEvent('E4'), newEvent('E5')], { expected: 'no_stream' })
  t.same(await typesOf(all, 5), ['E1', 'E2', 'E3', 'E4', 'E5'], 'full batches read on, none waiting for a poll')

  // Stopped while it holds a caught-up batch: it ends at once instead of waiting for an append.
  const stopper = new AbortController()
  const stopping = own.subscribe({ after: await own.head(), batchSize: 10, signal: stopper.signal })[Symbol.asyncIterator]()
  const firstBatch = stopping.next()
  await own.append(`${prefix}h`, [newEvent('H1')], { expected: 'no_stream' })
  t.same((await within(firstBatch, 5000)) === 'timed out' ? 'timed out' : 'batch', 'batch')
  stopper.abort()
  const ended = await within(stopping.next(), 2000)
  t.same(ended === 'timed out' ? ended : ended.done, true, 'aborted while holding a caught-up batch: done at once')
})

t.test('readStreams: several streams in one statement, each from its revision, at most maxCount each, in the order asked', async (t) => {
  const [a, b, none] = [`rs-a-${randomUUID()}`, `rs-b-${randomUUID()}`, `rs-none-${randomUUID()}`]
  await store.append(a, [newEvent('A0'), newEvent('A1'), newEvent('A2')], { expected: 'no_stream' })
  await store.append(b, [newEvent('B0'), newEvent('B1')], { expected: 'no_stream' })
  const read = await store.readStreams([{ stream: b, fromRevision: 1 }, { stream: none, fromRevision: 0 }, { stream: a, fromRevision: 0 }], 2)
  t.same(read.map((events) => events.map((e) => [e.stream, e.revision, e.type])), [[[b, 1, 'B1']], [], [[a, 0, 'A0'], [a, 1, 'A1']]])
  t.same(read[2]![1], (await store.readStream(a))[1], 'the same events as readStream gives')
  t.same(await store.readStreams([], 10), [])
})

t.test('readStreams: the same answers for 1 to 12 streams (one branch each, up to 8 in a statement), with custom and generic plans', async (t) => {
  const streams = Array.from({ length: 12 }, (_, i) => `rs-many-${i}-${randomUUID()}`)
  for (const [i, stream] of streams.entries()) await store.append(stream, Array.from({ length: (i % 3) + 1 }, (_, j) => newEvent(`E${j}`)), { expected: 'no_stream' })
  const reads = streams.map((stream, i) => ({ stream, fromRevision: i % 2 }))
  const expected = await Promise.all(reads.map((r) => store.readStream(r.stream, { fromRevision: r.fromRevision, maxCount: 2 })))
  // A connection that always runs a prepared statement's generic plan, as PostgreSQL may choose to after five runs.
  const generic = createPool(url, 1)
  generic.on('connect', (client) => void client.query('SET plan_cache_mode = force_generic_plan'))
  t.teardown(() => generic.end())
  const genericStore = new PostgresEventStore(generic)
  t.teardown(() => genericStore.close())
  for (let n = 1; n <= 12; n++) {
    // Asked in another order than written, so each answer must come back in the order asked.
    const asked = Array.from({ length: n }, (_, i) => (i * 5 + n) % 12)
    const want = asked.map((i) => expected[i]!)
    t.same(await store.readStreams(asked.map((i) => reads[i]!), 2), want, `${n} streams`)
    t.same(await genericStore.readStreams(asked.map((i) => reads[i]!), 2), want, `${n} streams, generic plan`)
  }
})

t.test('the store prepares its statements: each connection parses a statement once, then runs it by name', async (t) => {
  const own = createPool(url, 1)
  t.teardown(() => own.end())
  const mine = new PostgresEventStore(own)
  t.teardown(() => mine.close())
  const stream = `prepared-${randomUUID()}`
  await mine.append(stream, [newEvent('A')], { expected: 'no_stream' })
  for (let i = 0; i < 3; i++) await mine.readStream(stream)
  const client = await own.connect()
  try {
    const named = await client.query<{ name: string; statement: string }>('SELECT name, statement FROM pg_prepared_statements')
    const reads = named.rows.filter((r) => /FROM events\s+WHERE stream = \$1/.test(r.statement))
    t.equal(reads.length, 1, 'one prepared statement for the stream read, however often it ran')
    t.match(reads[0]?.name, /^event_store_[0-9a-f]{24}$/)
    t.ok(named.rows.some((r) => /append_batch/.test(r.statement)), 'the append too')
  } finally {
    client.release()
  }
})
