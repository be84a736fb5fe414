import { randomUUID } from 'node:crypto'
import pino from 'pino'
import t from 'tap'
import { loadConfig } from '../src/config.ts'
import { startService } from '../src/service.ts'
import { freshDatabaseUrl } from './helpers/database.ts'
import { eventually, freePort, machineNats, streamMessages, testStream } from './helpers/nats.ts'

t.test('start-up creates and migrates a missing database, then serves health', async (t) => {
  const config = loadConfig({ DATABASE_URL: freshDatabaseUrl(t, 'cl_start'), PORT: '0', HOST: '127.0.0.1' })
  const service = await startService(config, ['api'], pino({ level: 'silent' }))
  const res = await fetch(`${service.url}/health`)
  t.equal(res.status, 200)
  t.equal(((await res.json()) as { status: string }).status, 'ok')
  await service.stop()
  await t.rejects(fetch(`${service.url}/health`), 'after stop the port is closed')
})

t.test('the notifier role: NATS unreachable leaves the API serving with NATS reported as degraded', async (t) => {
  const config = loadConfig({ DATABASE_URL: freshDatabaseUrl(t, 'cl_nonats'), PORT: '0', HOST: '127.0.0.1', NATS_URL: `nats://127.0.0.1:${await freePort()}` })
  const service = await startService(config, ['api', 'projections', 'notifier'], pino({ level: 'silent' }))
  t.teardown(() => service.stop())
  const health = await fetch(`${service.url}/health`)
  t.equal(health.status, 200)
  const body = (await health.json()) as { status: string; checks: Record<string, { status: string }> }
  t.equal(body.status, 'degraded')
  t.equal(body.checks.nats?.status, 'degraded')
  const created = await fetch(`${service.url}/wallets`, {
    method: 'POST',
    headers: { authorization: 'Bearer dev-backend-key', 'idempotency-key': randomUUID(), 'content-type': 'application/json' },
    body: JSON.stringify({ ownerId: 'owner-1' }),
  })
  t.ok(created.status === 201 || created.status === 202, `commands are still accepted (${created.status})`)
})

t.test('the notifier role publishes a new wallet on its subject and the audit head from the injected source, and reports its lag', async (t) => {
  const stream = testStream(t)
  const config = loadConfig({
    DATABASE_URL: freshDatabaseUrl(t, 'cl_nats'),
    PORT: '0',
    HOST: '127.0.0.1',
    NATS_URL: machineNats,
    NATS_STREAM: stream.name,
    NATS_SUBJECT_PREFIX: stream.subjectPrefix,
  })
  const head = { position: '1', hash: 'ab'.repeat(32) }
  const service = await startService(config, ['api', 'projections', 'notifier'], pino({ level: 'silent' }), { auditHead: async () => head })
  t.teardown(() => service.stop())
  const created = await fetch(`${service.url}/wallets`, {
    method: 'POST',
    headers: { authorization: 'Bearer dev-backend-key', 'idempotency-key': randomUUID(), 'content-type': 'application/json' },
    body: JSON.stringify({ ownerId: 'owner-1' }),
  })
  const walletId = ((await created.json()) as { id: string }).id
  const messages = await eventually(() => streamMessages(machineNats, stream.name).catch(() => []), (m) => m.length >= 2)
  t.ok(messages.some((m) => m.subject === `${stream.subjectPrefix}.wallet.pending.${walletId}`), 'the new wallet is published')
  t.match(messages.find((m) => m.subject === `${stream.subjectPrefix}.audit.head`)?.data, head, 'the injected audit head is published')
  const health = (await (await fetch(`${service.url}/health`)).json()) as { checks: Record<string, { status: string }> }
  t.equal(health.checks.nats?.status, 'ok')
  const metrics = await (await fetch(`${service.url}/metrics`, { headers: { authorization: 'Bearer dev-admin-key' } })).text()
  t.match(metrics, /subscriber_lag_events\{subscriber="notifier"\} \d+/)
})
