import { randomUUID } from 'node:crypto'
import t from 'tap'
import { PostgresEventStore } from '../../../src/adapters/event-store/postgres.ts'
import { IdempotencyKeyTaken, WrongExpectedVersion, type RequestAnswer } from '../../../src/events/event-store.ts'
import { testDatabase } from '../../helpers/database.ts'
import { newEvent, newEvents } from '../../helpers/events.ts'

// Answers stored in the append's transaction (one commit per command): append_batch_answering.
const { pool } = await testDatabase(t)
const store = new PostgresEventStore(pool, { pollIntervalMs: 200 })
t.teardown(() => store.close())

const answer = (key: string, overrides: Partial<RequestAnswer> = {}): RequestAnswer => ({
  principal: 'dev-backend',
  key,
  requestHash: 'hash-1',
  status: 202,
  body: JSON.stringify({ id: key, status: 'pending' }),
  headers: { location: `/things/${key}` },
  ttlHours: 24,
  ...overrides,
})
const row = async (key: string) =>
  (await pool.query('SELECT request_hash, state, response_status, response_body, response_headers, expires_at > now() AS live FROM idempotency_keys WHERE key = $1', [key])).rows[0]

t.test('the answer is stored, finished, with the events', async (t) => {
  t.equal(store.storesAnswers, true)
  const key = randomUUID()
  const stream = `answered-${randomUUID()}`
  const [result] = await store.appendMulti([{ stream, events: newEvents(2), expected: 'no_stream' }], { answer: answer(key) })
  t.equal(result!.revision, 1)
  t.same(await row(key), { request_hash: 'hash-1', state: 'done', response_status: 202, response_body: { id: key, status: 'pending' }, response_headers: { location: `/things/${key}` }, live: true })
})

t.test('a key held already: nothing is written, the append fails with IdempotencyKeyTaken', async (t) => {
  const key = randomUUID()
  await store.appendMulti([{ stream: `first-${randomUUID()}`, events: [newEvent()], expected: 'no_stream' }], { answer: answer(key) })
  const stream = `second-${randomUUID()}`
  await t.rejects(store.appendMulti([{ stream, events: [newEvent()], expected: 'no_stream' }], { answer: answer(key, { requestHash: 'hash-2', status: 201 }) }), IdempotencyKeyTaken)
  t.same(await store.readStream(stream), [], 'the second append wrote nothing')
  t.equal((await row(key)).request_hash, 'hash-1', 'the first answer stands')
  const inFlight = randomUUID()
  await pool.query(`INSERT INTO idempotency_keys (principal, key, request_hash, state, locked_until, expires_at) VALUES ('dev-backend', $1, 'hash-1', 'in_flight', now() + interval '1 minute', now() + interval '1 day')`, [inFlight])
  await t.rejects(store.appendMulti([{ stream, events: [newEvent()], expected: 'no_stream' }], { answer: answer(inFlight) }), IdempotencyKeyTaken, 'a key in flight under the old path is held too')
  t.same(await store.readStream(stream), [])
})

t.test('two appends under one key in the same tick: one is written, the other is told the key is taken', async (t) => {
  const key = randomUUID()
  const streams = [`race-a-${randomUUID()}`, `race-b-${randomUUID()}`]
  const results = await Promise.allSettled(streams.map((stream, i) => store.appendMulti([{ stream, events: [newEvent()], expected: 'no_stream' }], { answer: answer(key, { requestHash: `hash-${i}` }) })))
  t.same(results.map((r) => r.status).sort(), ['fulfilled', 'rejected'])
  const rejected = results.find((r) => r.status === 'rejected')
  t.ok(rejected?.status === 'rejected' && rejected.reason instanceof IdempotencyKeyTaken)
  const written = await Promise.all(streams.map(async (s) => (await store.readStream(s)).length))
  t.same(written.sort(), [0, 1], 'exactly one of them wrote')
  const winner = results.findIndex((r) => r.status === 'fulfilled')
  t.equal((await row(key)).request_hash, `hash-${winner}`, 'and the row is the winner’s')
})

t.test('a batch mixing answered, plain and multi-stream appends, with a repeat of known ids', async (t) => {
  const known = newEvent()
  const knownStream = `known-${randomUUID()}`
  const original = await store.append(knownStream, [known], { expected: 'no_stream' })
  const keys = [randomUUID(), randomUUID(), randomUUID()]
  const multi = [`multi-a-${randomUUID()}`, `multi-b-${randomUUID()}`]
  const [plain, answered, both, replay] = await Promise.all([
    store.append(`plain-${randomUUID()}`, [newEvent()], { expected: 'no_stream' }),
    store.appendMulti([{ stream: `answered-${randomUUID()}`, events: newEvents(3), expected: 'no_stream' }], { answer: answer(keys[0]!) }),
    store.appendMulti(multi.map((stream) => ({ stream, events: [newEvent()], expected: 'no_stream' as const })), { answer: answer(keys[1]!) }),
    store.appendMulti([{ stream: knownStream, events: [known], expected: 'no_stream' }], { answer: answer(keys[2]!) }),
  ])
  t.equal(plain.revision, 0)
  t.equal(answered[0]!.revision, 2)
  t.same(both.map((r) => r.revision), [0, 0])
  t.same(replay, [original], 'known ids: the original result')
  for (const key of keys) t.equal((await row(key))?.state, 'done', 'every answer stored')
  const positions = [plain.position, answered[0]!.position, ...both.map((r) => r.position)].map(BigInt).sort((a, b) => (a < b ? -1 : 1))
  t.equal(new Set(positions).size, 4)
})

t.test('a refused append leaves the key free: the claim is undone with it', async (t) => {
  const key = randomUUID()
  const stream = `refused-${randomUUID()}`
  await store.append(stream, [newEvent()], { expected: 'no_stream' })
  await t.rejects(store.appendMulti([{ stream, events: [newEvent()], expected: 'no_stream' }], { answer: answer(key) }), WrongExpectedVersion)
  t.equal(await row(key), undefined, 'no row for the key')
  const [retried] = await store.appendMulti([{ stream, events: [newEvent()], expected: 0 }], { answer: answer(key) })
  t.equal(retried!.revision, 1)
  t.equal((await row(key)).state, 'done')
})

t.test('an expired key is taken over', async (t) => {
  const key = randomUUID()
  await pool.query(
    `INSERT INTO idempotency_keys (principal, key, request_hash, state, response_status, response_body, locked_until, expires_at) VALUES ('dev-backend', $1, 'old', 'done', 422, '{}', now(), now() - interval '1 second')`,
    [key],
  )
  await store.appendMulti([{ stream: `expired-${randomUUID()}`, events: [newEvent()], expected: 'no_stream' }], { answer: answer(key) })
  t.match(await row(key), { request_hash: 'hash-1', state: 'done', response_status: 202, live: true })
})
