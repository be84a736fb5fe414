import { once } from 'node:events'
import { connect, type AddressInfo } from 'node:net'
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
  t.equal(res.headers['retry-after'], '5', 'says when to retry')
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

t.test('the server has a request timeout and closes idle connections', async (t) => {
  const { app } = await httpHarness(t, { timeouts: { requestMs: 4000, connectionMs: 600 } })
  await app.listen({ port: 0, host: '127.0.0.1' })
  t.equal(app.server.requestTimeout, 4000, 'the whole request must arrive within requestTimeout')
  t.equal(app.server.timeout, 600, 'connectionTimeout is the socket idle timeout')
  const { port } = app.server.address() as AddressInfo
  const socket = connect(port, '127.0.0.1')
  await once(socket, 'connect')
  // Half a request line, then silence: a slow-loris client.
  socket.write('GET /health HTTP/1.1\r\nHost: x\r\n')
  const started = Date.now()
  await once(socket, 'close')
  const waited = Date.now() - started
  t.ok(waited >= 400 && waited < 10_000, `the idle connection was closed after ${waited} ms`)
})

t.test('the defaults are bounded too', async (t) => {
  const { app } = await httpHarness(t)
  t.ok(app.server.requestTimeout > 0 && app.server.requestTimeout <= 60_000, `requestTimeout ${app.server.requestTimeout}`)
  t.ok(app.server.timeout > 30_000, `connectionTimeout ${app.server.timeout} outlasts the longest Prefer: wait`)
})
