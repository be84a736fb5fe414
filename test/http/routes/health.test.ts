import pg from 'pg'
import t from 'tap'
import { sql } from 'kysely'
import { createDb } from '../../../src/adapters/postgres/database.ts'
import { PostgresEventStore } from '../../../src/adapters/event-store/postgres.ts'
import { DependencyDegraded } from '../../../src/http/routes/health.ts'
import { testApp } from '../../helpers/app.ts'

t.test('health is 200 with every check ok against a live database, without a key', async (t) => {
  const { app } = await testApp(t)
  const res = await app.inject({ method: 'GET', url: '/health' })
  t.equal(res.statusCode, 200)
  t.same(res.json(), { status: 'ok', checks: { database: { status: 'ok' }, eventStore: { status: 'ok' } } })
  t.ok(res.headers['x-request-id'], 'a request id is generated')
})

t.test('health is 503 with the database down; the public sees only ok/degraded/down, auditors and admins see why', async (t) => {
  const pool = new pg.Pool({ connectionString: 'postgres://postgres@127.0.0.1:1/gone', connectionTimeoutMillis: 300 })
  pool.on('error', () => undefined)
  const db = createDb(pool)
  const store = new PostgresEventStore(pool)
  const { app } = await testApp(t, {
    health: { database: async () => void (await sql`SELECT 1`.execute(db)), eventStore: async () => void (await store.head()) },
  })
  t.teardown(() => db.destroy())
  const res = await app.inject({ method: 'GET', url: '/health', headers: { 'x-request-id': 'probe-1' } })
  t.equal(res.statusCode, 503)
  t.same(res.json(), { status: 'down', checks: { database: { status: 'down' }, eventStore: { status: 'down' } } }, 'no error text, no host or port')
  t.notMatch(res.body, /127\.0\.0\.1|ECONNREFUSED|:1\b/)
  t.equal(res.headers['x-request-id'], 'probe-1', 'a given request id is echoed')
  const backend = await app.inject({ method: 'GET', url: '/health', headers: { authorization: 'Bearer dev-backend-key' } })
  t.equal(backend.json().checks.database.error, undefined, 'a backend key: still no details')
  const madeUp = await app.inject({ method: 'GET', url: '/health', headers: { authorization: 'Bearer made-up-key' } })
  t.equal(madeUp.statusCode, 401, 'a made-up key is refused, not shown anything')
  t.notMatch(madeUp.body, /127\.0\.0\.1|ECONNREFUSED/)
  for (const key of ['dev-auditor-key', 'dev-admin-key']) {
    const detailed = await app.inject({ method: 'GET', url: '/health', headers: { authorization: `Bearer ${key}` } })
    t.equal(detailed.statusCode, 503)
    t.match(detailed.json().checks.database, { status: 'down', error: /\S/ }, `${key} sees the error`)
  }
})

t.test('a degraded dependency makes health degraded, still 200', async (t) => {
  const { app } = await testApp(t, { health: { database: async () => undefined, circle: async () => ({ status: 'degraded' as const, error: 'Circle refused our API key (HTTP 401)' }) } })
  const res = await app.inject({ method: 'GET', url: '/health' })
  t.equal(res.statusCode, 200)
  t.same(res.json(), { status: 'degraded', checks: { database: { status: 'ok' }, circle: { status: 'degraded' } } })
  const admin = await app.inject({ method: 'GET', url: '/health', headers: { authorization: 'Bearer dev-admin-key' } })
  t.match(admin.json().checks.circle.error, /HTTP 401/)
})

t.test('a check that hangs is down after the timeout instead of hanging health', async (t) => {
  const { app } = await testApp(t, { health: { nats: () => new Promise(() => undefined) } })
  const started = Date.now()
  const res = await app.inject({ method: 'GET', url: '/health', headers: { authorization: 'Bearer dev-auditor-key' } })
  t.equal(res.statusCode, 503)
  t.match(res.json().checks.nats, { status: 'down', error: /no answer/ })
  t.ok(Date.now() - started < 5000)
})

t.test('an admin key sees the embedded simulator’s URL in /health details; others do not', async (t) => {
  const { app } = await testApp(t, { healthDetails: { circleSimulatorUrl: 'http://127.0.0.1:4010' } })
  const admin = await app.inject({ method: 'GET', url: '/health', headers: { authorization: 'Bearer dev-admin-key' } })
  t.same(admin.json().details, { circleSimulatorUrl: 'http://127.0.0.1:4010' })
  for (const headers of [{}, { authorization: 'Bearer dev-backend-key' }]) {
    const res = await app.inject({ method: 'GET', url: '/health', headers })
    t.equal(res.statusCode, 200, 'health stays open')
    t.equal(res.json().details, undefined)
  }
  const wrong = await app.inject({ method: 'GET', url: '/health', headers: { authorization: 'Bearer wrong-key' } })
  t.equal(wrong.statusCode, 401, 'a key that is sent must be valid, so a typo is not silently ignored')
  t.equal(wrong.json().error.code, 'unauthorized')
})

t.test('a degraded dependency (NATS) is reported as degraded while health stays 200', async (t) => {
  const { app } = await testApp(t, {
    health: { database: async () => undefined, nats: async () => Promise.reject(new DependencyDegraded('not connected to NATS')) },
  })
  const res = await app.inject({ method: 'GET', url: '/health' })
  t.equal(res.statusCode, 200)
  t.same(res.json(), { status: 'degraded', checks: { database: { status: 'ok' }, nats: { status: 'degraded' } } })
  const auditor = await app.inject({ method: 'GET', url: '/health', headers: { authorization: 'Bearer dev-auditor-key' } })
  t.same(auditor.json().checks.nats, { status: 'degraded', error: 'not connected to NATS' }, 'the reason goes to auditor keys')
})
