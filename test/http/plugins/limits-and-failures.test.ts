import t from 'tap'
import { EventStoreUnavailable, type EventStore } from '../../../src/events/event-store.ts'
import { MemoryEventStore } from '../../../src/adapters/event-store/memory.ts'
import { auth } from '../../helpers/app.ts'
import { httpHarness } from '../../helpers/http.ts'

t.test('past the per-key rate limit the answer is 429 with Retry-After; other keys are unaffected', async (t) => {
  const { client } = await httpHarness(t, { rateLimit: { max: 3, windowMs: 60_000 } })
  const url = '/wallets/00000000-0000-4000-8000-000000000000'
  for (let i = 0; i < 3; i++) t.equal((await client.call({ method: 'GET', url, headers: auth.backend })).statusCode, 404)
  const limited = await client.call({ method: 'GET', url, headers: auth.backend })
  t.equal(limited.statusCode, 429)
  t.equal(limited.json().error.code, 'rate_limited')
  t.ok(Number(limited.headers['retry-after']) > 0, 'Retry-After says when to come back')
  t.equal((await client.call({ method: 'GET', url, headers: auth.auditor })).statusCode, 404, 'the auditor key has its own budget')
  t.equal((await client.call({ method: 'GET', url: '/health' })).statusCode, 200, 'health is never limited')
})

t.test('an unavailable event store is 503 and the idempotency key stays usable', async (t) => {
  const inner = new MemoryEventStore()
  let down = true
  const flaky: EventStore = Object.assign(Object.create(inner) as EventStore, {
    readStream: async (...args: Parameters<EventStore['readStream']>) => {
      if (down) throw new EventStoreUnavailable('event store unreachable')
      return inner.readStream(...args)
    },
  })
  const { post } = await httpHarness(t, { store: flaky })
  const res = await post('/wallets', { ownerId: 'x' }, { 'idempotency-key': 'retry-me' })
  t.equal(res.statusCode, 503)
  t.equal(res.json().error.code, 'dependency_unavailable')
  t.notMatch(res.body, /at .*\.ts/, 'no stack trace')
  down = false
  t.equal((await post('/wallets', { ownerId: 'x' }, { 'idempotency-key': 'retry-me' })).statusCode, 202)
})

t.test('an unexpected error is a bare 500 internal_error with no internals', async (t) => {
  const inner = new MemoryEventStore()
  const broken: EventStore = Object.assign(Object.create(inner) as EventStore, {
    readStream: async () => {
      throw new Error('SELECT secret FROM internals failed at /srv/app.ts:12')
    },
  })
  const { app } = await httpHarness(t, { store: broken })
  const res = await app.inject({ method: 'POST', url: '/wallets', payload: { ownerId: 'x' }, headers: { ...auth.backend, 'idempotency-key': 'k-500' } })
  t.equal(res.statusCode, 500)
  t.same(res.json().error, { code: 'internal_error', message: 'an internal error occurred' })
})

t.test('unknown routes are 404 with the error body; invalid JSON is 400 invalid_json', async (t) => {
  const { app } = await httpHarness(t)
  const missing = await app.inject({ method: 'GET', url: '/nowhere', headers: auth.backend })
  t.equal(missing.statusCode, 404)
  t.equal(missing.json().error.code, 'not_found')
  const broken = await app.inject({ method: 'POST', url: '/wallets', payload: '{"ownerId":', headers: { ...auth.backend, 'content-type': 'application/json', 'idempotency-key': 'k' } })
  t.equal(broken.statusCode, 400)
  t.equal(broken.json().error.code, 'invalid_json')
})
