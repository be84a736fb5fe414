import { execFile } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import path from 'node:path'
import createClient from 'openapi-fetch'
import pino from 'pino'
import t from 'tap'
import type { paths } from '../../examples/client/openapi.ts'
import { generateTypes, typesFile } from '../../scripts/openapi-types.ts'
import { loadConfig } from '../../src/config.ts'
import { startService } from '../../src/service.ts'
import { freshDatabaseUrl } from '../helpers/database.ts'

const root = path.resolve(import.meta.dirname, '../..')

t.test('the committed client types are what openapi-typescript generates from the current document', async (t) => {
  const [committed, generated] = await Promise.all([readFile(typesFile, 'utf8'), generateTypes()])
  t.ok(committed === generated, 'examples/client/openapi.ts is up to date (run `npm run openapi:types` after changing an HTTP schema)')
})

t.test('the quick start, through a client generated from /openapi.json and by examples/quickstart.sh, against a started service', async (t) => {
  const config = loadConfig({
    DATABASE_URL: freshDatabaseUrl(t, 'cl_quickstart'),
    PORT: '0',
    HOST: '127.0.0.1',
    SIMULATOR_SETTLE_MS: '50',
    CIRCLE_POLL_INTERVAL_MS: '100',
    LOG_LEVEL: 'silent',
    SIMULATOR_CONTROL_TOKEN: 'quickstart-test-token',
  })
  const service = await startService(config, ['api', 'projections', 'process-manager'], pino({ level: 'silent' }))
  t.teardown(() => service.stop())
  const baseUrl = service.url!

  // The typed client: a renamed field or route in the API breaks the type check of this test.
  const api = createClient<paths>({ baseUrl, headers: { authorization: 'Bearer dev-backend-key' } })
  const key = () => crypto.randomUUID()
  const wait = { prefer: 'wait=10' }
  const created = await api.POST('/wallets', { params: { header: { 'idempotency-key': key(), ...wait } }, body: { ownerId: 'user-42', description: 'main' } })
  t.equal(created.response.status, 201, 'active within the wait: 201')
  const walletId = created.data!.id
  const other = (await api.POST('/wallets', { params: { header: { 'idempotency-key': key(), ...wait } }, body: { ownerId: 'user-42' } })).data!.id
  const minted = await api.POST('/mint', { params: { header: { 'idempotency-key': key(), ...wait } }, body: { walletId, amount: '25.00' } })
  t.equal(minted.response.status, 200)
  t.equal(minted.data?.status, 'completed')
  const moved = await api.POST('/transfers', { params: { header: { 'idempotency-key': key(), ...wait } }, body: { sourceWalletId: walletId, destination: { type: 'wallet', walletId: other }, amount: '5.00' } })
  t.equal(moved.data?.status, 'completed')
  const read = await api.GET('/wallets/{id}', { params: { path: { id: walletId } } })
  t.same(read.data?.balances, { available: '20.00', reserved: '0.00', total: '20.00', currency: 'USD' })
  const refused = await api.POST('/mint', { params: { header: { 'idempotency-key': key() } }, body: { walletId, amount: '0' } })
  t.equal(refused.response.status, 400)
  t.equal(refused.error?.error.code, 'validation_failed')

  const script = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) =>
    execFile('bash', [path.join(root, 'examples/quickstart.sh')], { env: { ...process.env, BASE_URL: baseUrl, SIMULATOR_CONTROL_TOKEN: 'quickstart-test-token' }, timeout: 120_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    ),
  )
  t.equal(script.code, 0, 'examples/quickstart.sh passes', { stderr: script.stderr, stdout: script.stdout })
  for (const step of ['create wallet A', 'create wallet B', 'deposit address on A', 'link bank account', 'mint 100.00', 'redeem 40.00', 'transfer 10.00 A -> B', 'transfer 2.50 B -> A', 'issue a card', 'freeze the card', 'simulate a 5.00 deposit']) {
    t.match(script.stdout, step, `prints the step: ${step}`)
  }
  t.match(script.stdout, /simulate a 5\.00 deposit to A\s+\d+ ms .*"available":"57\.50"/, 'the deposit reached wallet A by polling alone')
  t.match(script.stdout, 'quickstart: all steps passed')
})
