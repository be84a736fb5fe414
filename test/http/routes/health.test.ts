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

t.test('health is 503 naming the database when it is down', async (t) => {
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
  const body = res.json()
  t.equal(body.status, 'failed')
  t.equal(body.checks.database.status, 'failed')
  t.equal(body.checks.eventStore.status, 'failed')
  t.equal(res.headers['x-request-id'], 'probe-1', 'a given request id is echoed')
})

t.test('a check that hangs fails after the timeout instead of hanging health', async (t) => {
  const { app } = await testApp(t, { health: { nats: () => new Promise(() => undefined) } })
  const started = Date.now()
  const res = await app.inject({ method: 'GET', url: '/health' })
  t.equal(res.statusCode, 503)
  t.match(res.json().checks.nats.error, /no answer/)
  t.ok(Date.now() - started < 5000)
})

t.test('a degraded dependency (NATS) is reported as degraded while health stays 200', async (t) => {
  const { app } = await testApp(t, {
    health: { database: async () => undefined, nats: async () => Promise.reject(new DependencyDegraded('not connected to NATS')) },
  })
  const res = await app.inject({ method: 'GET', url: '/health' })
  t.equal(res.statusCode, 200)
  t.same(res.json(), { status: 'degraded', checks: { database: { status: 'ok' }, nats: { status: 'degraded', error: 'not connected to NATS' } } })
})
