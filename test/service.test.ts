import pino from 'pino'
import t from 'tap'
import { loadConfig } from '../src/config.ts'
import { startService } from '../src/service.ts'
import { freshDatabaseUrl } from './helpers/database.ts'

t.test('start-up creates and migrates a missing database, then serves health', async (t) => {
  const config = loadConfig({ DATABASE_URL: freshDatabaseUrl(t, 'cl_start'), PORT: '0', HOST: '127.0.0.1' })
  const service = await startService(config, ['api'], pino({ level: 'silent' }))
  const res = await fetch(`${service.url}/health`)
  t.equal(res.status, 200)
  t.equal(((await res.json()) as { status: string }).status, 'ok')
  await service.stop()
  await t.rejects(fetch(`${service.url}/health`), 'after stop the port is closed')
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
