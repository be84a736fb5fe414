import { randomUUID } from 'node:crypto'
import t from 'tap'
import { PostgresEventStore } from '../../../src/adapters/event-store/postgres.ts'
import { IdempotencyKeyTaken, WrongExpectedVersion, type KeyLock, type RequestAnswer } from '../../../src/events/event-store.ts'
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

// Appends of requests holding their key in flight (Prefer: wait, routes answering after their append): AppendOptions.lock.
const lockOf = (key: string, token = randomUUID()): KeyLock => ({ principal: 'dev-backend', key, requestHash: 'hash-1', token, lockSeconds: 60, ttlHours: 24 })
const inFlight = (key: string, token: string | null, lockedFor = "interval '1 minute'") =>
  pool.query(
    `INSERT INTO idempotency_keys (principal, key, request_hash, state, locked_until, lock_token, expires_at) VALUES ('dev-backend', $1, 'hash-1', 'in_flight', now() + ${lockedFor}, $2, now() + interval '1 day')`,
    [key, token],
  )
const lockRow = async (key: string) =>
  (await pool.query('SELECT state, lock_token, response_status, locked_until > now() + interval \'30 seconds\' AS renewed FROM idempotency_keys WHERE key = $1', [key])).rows[0]

t.test('a key lock: written while the request holds its key in flight, and the lock is renewed', async (t) => {
  const key = randomUUID()
  const lock = lockOf(key)
  await inFlight(key, lock.token, "interval '1 second'")
  const stream = `locked-${randomUUID()}`
  const [result] = await store.appendMulti([{ stream, events: newEvents(2), expected: 'no_stream' }], { lock })
  t.equal(result!.revision, 1)
  t.same(await lockRow(key), { state: 'in_flight', lock_token: lock.token, response_status: null, renewed: true }, 'still in flight under the token, for its request to finish')
})

t.test('a key lock another attempt has taken, or that was answered meanwhile: nothing is written', async (t) => {
  const stream = `lost-${randomUUID()}`
  const taken = randomUUID()
  await inFlight(taken, randomUUID()) // a retry took the lapsed lock: its own token
  await t.rejects(store.appendMulti([{ stream, events: [newEvent()], expected: 'no_stream' }], { lock: lockOf(taken) }), IdempotencyKeyTaken)
  const answered = randomUUID()
  await store.appendMulti([{ stream: `retry-${randomUUID()}`, events: [newEvent()], expected: 'no_stream' }], { answer: answer(answered) })
  await t.rejects(store.appendMulti([{ stream, events: [newEvent()], expected: 'no_stream' }], { lock: lockOf(answered) }), IdempotencyKeyTaken)
  t.same(await store.readStream(stream), [], 'neither append wrote')
  t.equal((await row(answered)).state, 'done', "the retry's answer stands")
})

t.test('a key lock whose row is gone (a retry removed it as abandoned) writes nothing, and leaves no row', async (t) => {
  const key = randomUUID()
  const stream = `gone-${randomUUID()}`
  await t.rejects(store.appendMulti([{ stream, events: [newEvent()], expected: 'no_stream' }], { lock: lockOf(key) }), IdempotencyKeyTaken)
  t.same(await store.readStream(stream), [])
  t.equal(await lockRow(key), undefined, 'the key stays free for the retry that removed it')
  await store.appendMulti([{ stream: `retry-${randomUUID()}`, events: [newEvent()], expected: 'no_stream' }], { answer: answer(key) })
  t.equal((await row(key)).state, 'done', "and the retry's answer is stored")
})

t.test('a key lock that lapsed without anyone taking it over still holds: the stalled request appends and its lock is renewed', async (t) => {
  const key = randomUUID()
  const lock = lockOf(key)
  await inFlight(key, lock.token, "interval '-5 seconds'")
  const created = (await pool.query('SELECT created_at, expires_at FROM idempotency_keys WHERE key = $1', [key])).rows[0]
  const stream = `lapsed-${randomUUID()}`
  await store.appendMulti([{ stream, events: [newEvent()], expected: 'no_stream' }], { lock })
  t.equal((await store.readStream(stream)).length, 1)
  t.match(await lockRow(key), { state: 'in_flight', lock_token: lock.token, renewed: true })
  t.same((await pool.query('SELECT created_at, expires_at FROM idempotency_keys WHERE key = $1', [key])).rows[0], created, 'the key keeps its creation and expiry times')
})

t.test('an expired row under another token is not taken by a key lock', async (t) => {
  const key = randomUUID()
  await pool.query(
    `INSERT INTO idempotency_keys (principal, key, request_hash, state, locked_until, lock_token, expires_at) VALUES ('dev-backend', $1, 'hash-1', 'in_flight', now() - interval '1 hour', $2, now() - interval '1 second')`,
    [key, randomUUID()],
  )
  const stream = `expired-lock-${randomUUID()}`
  await t.rejects(store.appendMulti([{ stream, events: [newEvent()], expected: 'no_stream' }], { lock: lockOf(key) }), IdempotencyKeyTaken)
  t.same(await store.readStream(stream), [])
})

t.test('a key lock racing a takeover: the fence waits for the key row, then sees the new token and writes nothing', async (t) => {
  const key = randomUUID()
  const lock = lockOf(key)
  await inFlight(key, lock.token, "interval '-1 second'")
  const retry = await pool.connect()
  t.teardown(() => retry.release())
  await retry.query('BEGIN')
  await retry.query('SELECT 1 FROM idempotency_keys WHERE key = $1 FOR UPDATE', [key])
  const stream = `raced-${randomUUID()}`
  const appending = store.appendMulti([{ stream, events: [newEvent()], expected: 'no_stream' }], { lock })
  appending.catch(() => undefined)
  await new Promise((r) => setTimeout(r, 200))
  // The retry's takeover, committed while the fence waits on the row.
  await retry.query('UPDATE idempotency_keys SET lock_token = $2, locked_until = now() + interval \'1 minute\' WHERE key = $1', [key, randomUUID()])
  await retry.query('COMMIT')
  await t.rejects(appending, IdempotencyKeyTaken)
  t.same(await store.readStream(stream), [])
})

t.test('a key lock and an answer under one key in the same tick: the lock holder writes, the answer finds the key held', async (t) => {
  const key = randomUUID()
  const lock = lockOf(key)
  await inFlight(key, lock.token)
  const streams = [`same-key-lock-${randomUUID()}`, `same-key-answer-${randomUUID()}`]
  const results = await Promise.allSettled([
    store.appendMulti([{ stream: streams[0]!, events: [newEvent()], expected: 'no_stream' }], { lock }),
    store.appendMulti([{ stream: streams[1]!, events: [newEvent()], expected: 'no_stream' }], { answer: answer(key) }),
  ])
  t.same(results.map((r) => r.status), ['fulfilled', 'rejected'])
  t.ok(results[1]!.status === 'rejected' && results[1]!.reason instanceof IdempotencyKeyTaken)
  t.same(await Promise.all(streams.map(async (s) => (await store.readStream(s)).length)), [1, 0])
})

t.test('the 16-argument append_batch_answering stays for processes of the previous release', async (t) => {
  const key = randomUUID()
  const stream = `previous-release-${randomUUID()}`
  const res = await pool.query(
    `SELECT o_outcome FROM append_batch_answering($1::int[], $2::text[], $3::text[], $4::int[], $5::uuid[], $6::text[], $7::jsonb[], $8::jsonb[],
       $9::int[], $10::text[], $11::text[], $12::text[], $13::int[], $14::jsonb[], $15::jsonb[], $16::int[])`,
    [[0], [stream], ['no_stream'], [1], [randomUUID()], ['Tested'], ['{}'], [JSON.stringify({ actor: 'old' })], [0], ['dev-backend'], [key], ['hash-1'], [202], ['{}'], ['{}'], [24]],
  )
  t.same(res.rows.map((r) => r.o_outcome), ['written'])
  t.equal((await row(key)).state, 'done')
})

t.test('a key lock on a refused append keeps its row in flight, for its request to store the refusal', async (t) => {
  const key = randomUUID()
  const lock = lockOf(key)
  await inFlight(key, lock.token)
  const stream = `refused-lock-${randomUUID()}`
  await store.append(stream, [newEvent()], { expected: 'no_stream' })
  await t.rejects(store.appendMulti([{ stream, events: [newEvent()], expected: 'no_stream' }], { lock }), WrongExpectedVersion)
  t.match(await lockRow(key), { state: 'in_flight', lock_token: lock.token })
})

t.test('a batch mixing a held lock, a lost lock and an answer: each append gets its own outcome', async (t) => {
  const held = lockOf(randomUUID())
  const lost = lockOf(randomUUID())
  await inFlight(held.key, held.token)
  await inFlight(lost.key, randomUUID())
  const answered = randomUUID()
  const streams = [`mix-held-${randomUUID()}`, `mix-lost-${randomUUID()}`, `mix-answer-${randomUUID()}`]
  const results = await Promise.allSettled([
    store.appendMulti([{ stream: streams[0]!, events: [newEvent()], expected: 'no_stream' }], { lock: held }),
    store.appendMulti([{ stream: streams[1]!, events: [newEvent()], expected: 'no_stream' }], { lock: lost }),
    store.appendMulti([{ stream: streams[2]!, events: [newEvent()], expected: 'no_stream' }], { answer: answer(answered) }),
  ])
  t.same(results.map((r) => r.status), ['fulfilled', 'rejected', 'fulfilled'])
  t.ok(results[1]!.status === 'rejected' && results[1]!.reason instanceof IdempotencyKeyTaken)
  t.same(await Promise.all(streams.map(async (s) => (await store.readStream(s)).length)), [1, 0, 1])
})
