import { randomUUID } from 'node:crypto'
import pino from 'pino'
import t from 'tap'
import { loadConfig } from '../../src/config.ts'
import { startService } from '../../src/service.ts'
import { freshDatabaseUrl } from '../helpers/database.ts'

t.test('the service runs the journal and the audit log in its projections role: a real mint is booked and chained', async (t) => {
  const config = loadConfig({ DATABASE_URL: freshDatabaseUrl(t, 'cl_ledger'), PORT: '0', HOST: '127.0.0.1', SIMULATOR_SETTLE_MS: '50' })
  const service = await startService(config, ['api', 'projections', 'process-manager'], pino({ level: 'silent' }))
  t.teardown(() => service.stop())
  const call = async (method: string, path: string, role: 'backend' | 'auditor', body?: unknown) => {
    const res = await fetch(`${service.url}${path}`, {
      method,
      headers: { authorization: `Bearer dev-${role}-key`, ...(body ? { 'content-type': 'application/json', 'idempotency-key': randomUUID(), prefer: 'wait=20' } : {}) },
      ...(body ? { body: JSON.stringify(body) } : {}),
    })
    return { status: res.status, body: (await res.json()) as Record<string, any> }
  }
  const wallet = await call('POST', '/wallets', 'backend', { ownerId: 'ledger-e2e' })
  t.equal(wallet.body.status, 'active', 'the process manager created the wallet at the simulator')
  const mint = await call('POST', '/mint', 'backend', { walletId: wallet.body.id, amount: '12.34' })
  t.equal(mint.body.status, 'completed')

  let balances: Record<string, any> = {}
  for (let i = 0; i < 100 && balances.available !== '12.34'; i++) {
    balances = (await call('GET', `/wallets/${wallet.body.id}/balances`, 'backend')).body.balances ?? {}
    if (balances.available !== '12.34') await new Promise((r) => setTimeout(r, 100))
  }
  t.equal(balances.available, '12.34', 'the journal booked the completed mint')
  t.match((await call('GET', '/journal/trial-balance', 'auditor')).body, { total: '0.00', balanced: true })
  let verify: Record<string, any> = {}
  for (let i = 0; i < 100; i++) {
    verify = (await call('GET', '/audit/verify', 'auditor')).body
    const head = (await call('GET', '/audit/head', 'auditor')).body
    if (verify.ok && verify.position === head.position && verify.verified > 0) break
    await new Promise((r) => setTimeout(r, 100))
  }
  t.match(verify, { ok: true, message: /^verified \d+ events up to position \d+$/ })
})
