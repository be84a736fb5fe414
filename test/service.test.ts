import { randomUUID } from 'node:crypto'
import pino from 'pino'
import t from 'tap'
import { createCircleSimulator } from '../src/adapters/circle/simulator/simulator.ts'
import { loadConfig } from '../src/config.ts'
import { startService } from '../src/service.ts'
import { until } from './helpers/circle.ts'
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

t.test('a restart on the same database continues with the embedded Circle: distinct Circle wallets, every mint completes', async (t) => {
  const config = loadConfig({
    DATABASE_URL: freshDatabaseUrl(t, 'cl_restart'),
    PORT: '0',
    HOST: '127.0.0.1',
    SIMULATOR_SETTLE_MS: '300',
    CIRCLE_POLL_INTERVAL_MS: '50',
  })
  const logger = pino({ level: 'silent' })
  const headers = { authorization: 'Bearer dev-backend-key', 'content-type': 'application/json' }
  const call = async (base: string, method: string, path: string, body?: object) => {
    const res = await fetch(`${base}${path}`, { method, headers: body ? { ...headers, 'idempotency-key': randomUUID() } : headers, ...(body ? { body: JSON.stringify(body) } : {}) })
    return (await res.json()) as Record<string, unknown>
  }
  const settled = async (base: string, path: string, status: string) =>
    until(async () => {
      const body = await call(base, 'GET', path)
      return body.status === status ? body : undefined
    }, 20_000, `${path} ${status}`)

  let service = await startService(config, ['api', 'projections', 'process-manager'], logger)
  const first = (await call(service.url!, 'POST', '/wallets', { ownerId: 'owner-1' })).id as string
  const firstActive = await settled(service.url!, `/wallets/${first}`, 'active')
  // Stopped mid-flow: Circle has accepted this mint and not settled it yet.
  const inFlight = (await call(service.url!, 'POST', '/mint', { walletId: first, amount: '5.00' })).id as string
  await settled(service.url!, `/mints/${inFlight}`, 'processing')
  await service.stop()

  service = await startService(config, ['api', 'projections', 'process-manager'], logger)
  t.teardown(() => service.stop())
  const more = [(await call(service.url!, 'POST', '/wallets', { ownerId: 'owner-2' })).id as string, (await call(service.url!, 'POST', '/wallets', { ownerId: 'owner-3' })).id as string]
  const active = [firstActive, ...(await Promise.all(more.map((id) => settled(service.url!, `/wallets/${id}`, 'active'))))]
  const circleIds = active.map((w) => w.circleWalletId)
  t.equal(new Set(circleIds).size, 3, `three distinct Circle wallets: ${circleIds.join(', ')}`)
  const mints = await Promise.all([first, ...more].map(async (walletId) => (await call(service.url!, 'POST', '/mint', { walletId, amount: '10.00' })).id as string))
  for (const mintId of [inFlight, ...mints]) t.equal((await settled(service.url!, `/mints/${mintId}`, 'completed')).status, 'completed', `mint ${mintId} completed`)
  t.match(await call(service.url!, 'GET', `/wallets/${first}`), { balances: { available: '15.00' } }, 'the mint in flight at the stop completed after the restart')
  for (const walletId of more) t.match(await call(service.url!, 'GET', `/wallets/${walletId}`), { balances: { available: '10.00' } }, 'credited')
})

t.test('health turns degraded when Circle refuses the service’s key, and ok again when it works', async (t) => {
  const sim = await createCircleSimulator({ settleMs: 20 })
  const simUrl = await sim.listen()
  t.teardown(() => sim.close())
  const config = loadConfig({ DATABASE_URL: freshDatabaseUrl(t, 'cl_health'), PORT: '0', HOST: '127.0.0.1', CIRCLE_API_KEY: 'ROTATED', CIRCLE_BASE_URL: simUrl, CARD_ISSUER_URL: simUrl, CARD_ISSUER_API_KEY: 'any' })
  const service = await startService(config, ['api', 'projections'], pino({ level: 'silent' }))
  t.teardown(() => service.stop())
  const health = async () => (await fetch(`${service.url}/health`, { headers: { authorization: 'Bearer dev-admin-key' } })).json() as Promise<{ status: string; checks: Record<string, { status: string; error?: string }> }>
  t.equal((await health()).checks.circle?.status, 'ok')
  sim.setFaults({ revokedKeys: ['ROTATED'] })
  // The verdict is cached for 30 s; a call from the service (here a bank account link) refreshes it at once.
  const link = () =>
    fetch(`${service.url}/bank-accounts`, {
      method: 'POST',
      headers: { authorization: 'Bearer dev-backend-key', 'content-type': 'application/json', 'idempotency-key': randomUUID() },
      body: JSON.stringify({ ownerId: 'o', accountNumber: '12340010', routingNumber: '121000248', billingDetails: { name: 'A', line1: '1', city: 'Boston', postalCode: '02201', country: 'US', district: 'MA' }, bankAddress: { country: 'US' } }),
    })
  t.equal((await link()).status, 503, 'the link waits for a working key')
  const degraded = await health()
  t.equal(degraded.status, 'degraded')
  t.match(degraded.checks.circle, { status: 'degraded', error: /HTTP 401/ })
  sim.setFaults({})
  t.equal((await link()).status, 202)
  t.same(await health(), { status: 'ok', checks: { database: { status: 'ok' }, eventStore: { status: 'ok' }, circle: { status: 'ok' } } })
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
  t.match(metrics, /aggregate_snapshot_loads_total\{outcome="unusable"\} 0/, 'the command side\'s cache reports its snapshot loads')
})

t.test('with the embedded simulator, its webhooks reach our own /webhook and complete a mint with polling out of the way', async (t) => {
  const config = loadConfig({
    DATABASE_URL: freshDatabaseUrl(t, 'cl_start'),
    PORT: '0',
    HOST: '127.0.0.1',
    SIMULATOR_SETTLE_MS: '1500',
    CIRCLE_POLL_INTERVAL_MS: '600000',
  })
  const service = await startService(config, ['api', 'projections', 'process-manager', 'webhook-worker'], pino({ level: 'silent' }))
  t.teardown(() => service.stop())
  const headers = { authorization: 'Bearer dev-backend-key', 'content-type': 'application/json' }
  const post = async (path: string, body: object) =>
    (await fetch(`${service.url}${path}`, { method: 'POST', headers: { ...headers, 'idempotency-key': crypto.randomUUID() }, body: JSON.stringify(body) })).json() as Promise<{ id: string }>
  const get = async (path: string) => (await fetch(`${service.url}${path}`, { headers })).json() as Promise<{ status: string }>
  const until = async (path: string, status: string) => {
    for (let i = 0; i < 200; i++) {
      if ((await get(path)).status === status) return true
      await new Promise((r) => setTimeout(r, 50))
    }
    return false
  }
  const wallet = await post('/wallets', { ownerId: 'owner-1' })
  t.ok(await until(`/wallets/${wallet.id}`, 'active'))
  const mint = await post('/mint', { walletId: wallet.id, amount: '10.00' })
  t.ok(await until(`/mints/${mint.id}`, 'completed'), 'completed by the webhook: the next poll is ten minutes away')
  const metrics = await (await fetch(`${service.url}/metrics`, { headers: { authorization: 'Bearer dev-auditor-key' } })).text()
  t.match(metrics, /webhooks_total\{stage="processed"\} [1-9]/)
  t.match(metrics, /webhooks_total\{stage="verified"\} [1-9]/)
})

t.test('the reconciler role runs on its interval, and an admin starts a run over HTTP', async (t) => {
  const config = loadConfig({ DATABASE_URL: freshDatabaseUrl(t, 'cl_reconcile'), PORT: '0', HOST: '127.0.0.1', RECONCILE_INTERVAL: '300ms', RECONCILE_GRACE: '0', LEASE_RETRY_MS: '100' })
  const service = await startService(config, ['api', 'projections', 'process-manager', 'reconciler'], pino({ level: 'silent' }))
  t.teardown(() => service.stop())
  const admin = { authorization: 'Bearer dev-admin-key' }
  const runs = async () => ((await (await fetch(`${service.url}/admin/reconciliation/runs`, { headers: admin })).json()) as { items: { id: string; trigger: string; status: string; outcome: string }[] }).items
  const scheduled = await until(async () => (await runs()).find((r) => r.trigger === 'schedule' && r.status === 'completed'), 20_000, 'a scheduled run')
  t.equal(scheduled.outcome, 'clean')

  const started = await until(async () => {
    const res = await fetch(`${service.url}/admin/reconciliation/runs`, { method: 'POST', headers: admin })
    // The schedule may hold the run lock for a moment.
    return res.status === 202 ? ((await res.json()) as { id: string }) : undefined
  }, 20_000, 'a run started over HTTP')
  const done = await until(async () => {
    const body = (await (await fetch(`${service.url}/admin/reconciliation/runs/${started.id}`, { headers: admin })).json()) as { status: string; outcome: string; trigger: string }
    return body.status === 'completed' ? body : undefined
  }, 20_000, 'the HTTP run completed')
  t.match(done, { trigger: 'http', outcome: 'clean' })
})
