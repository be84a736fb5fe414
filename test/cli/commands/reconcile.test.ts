import { spawn } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import path from 'node:path'
import t from 'tap'
import { PostgresEventStore } from '../../../src/adapters/event-store/postgres.ts'
import { readModels } from '../../../src/projections/index.ts'
import { ProjectionRunner } from '../../../src/subscriptions/projection-runner.ts'
import { simulatedCircle, until } from '../../helpers/circle.ts'
import { testDatabase } from '../../helpers/database.ts'

const root = path.resolve(import.meta.dirname, '../../..')

/** The CLI as a child process (async: the simulator it talks to lives in this process). */
function cli(env: Record<string, string>, ...args: string[]): Promise<{ status: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }> {
  return started(env, ...args).done
}

function started(env: Record<string, string>, ...args: string[]) {
  const child = spawn(process.execPath, ['src/cli/main.ts', ...args], { cwd: root, env: { PATH: process.env.PATH, ...env } })
  const done = new Promise<{ status: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>((resolve) => {
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()))
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
    child.on('close', (status, signal) => resolve({ status, signal, stdout, stderr }))
  })
  return { child, done }
}

t.test('reconcile prints a summary table (exit 1 on findings) or JSON, with a progress bar on stderr', async (t) => {
  const { url, db, pool } = await testDatabase(t)
  const { sim, url: circleUrl, circle } = await simulatedCircle(t)
  const store = new PostgresEventStore(pool)
  t.teardown(() => store.close())
  const created = await circle.createWallet({ idempotencyKey: randomUUID() })
  const walletId = randomUUID()
  const metadata = { correlationId: walletId, causationId: walletId, actor: 'test', occurredAt: new Date().toISOString() }
  await store.append(
    `wallet-${walletId}`,
    [
      { id: randomUUID(), type: 'WalletCreationRequested', data: { walletId, ownerId: 'o' }, metadata },
      { id: randomUUID(), type: 'WalletCreated', data: { walletId, circleWalletId: created.walletId }, metadata },
    ],
    { expected: 'no_stream' },
  )
  const runner = new ProjectionRunner({ projections: readModels, store, db })
  runner.start()
  await runner.caughtUp((await store.head())!)
  await runner.stop()
  const env = { DATABASE_URL: url, CIRCLE_API_KEY: 'SIM_KEY', CIRCLE_BASE_URL: circleUrl, CARD_ISSUER_URL: circleUrl, CARD_ISSUER_API_KEY: 'SIM_KEY', RECONCILE_GRACE: '0' }

  const clean = await cli(env, 'reconcile')
  t.equal(clean.status, 0, clean.stderr)
  t.match(clean.stdout, /run [0-9a-f-]{36}: clean/)
  t.match(clean.stdout, /0 finding\(s\)/)
  t.match(clean.stderr, /wallet balances \[/, 'a progress bar per phase on stderr')
  t.match(clean.stderr, /wallet balances \[.*\| 1\/1 wallets \|/, 'counting wallets')
  t.match(clean.stderr, /Circle listings \[.*\| \d+\/\d+ pages \|/, 'and the listings in pages')

  await fetch(`${circleUrl}/sim/wallets/${created.walletId}/adjust`, { method: 'POST', headers: { ...sim.controlHeaders, 'content-type': 'application/json' }, body: JSON.stringify({ amount: '4.50' }) })
  const found = await cli(env, 'reconcile')
  t.equal(found.status, 1, 'exit 1 when the run has findings')
  t.match(found.stdout, new RegExp(`balance_mismatch\\s+wallet-${walletId}\\s+ledger 0.00 circle 4.50 \\(4.50\\)`))

  const json = await cli(env, '--json', 'reconcile')
  const body = JSON.parse(json.stdout) as { run: { outcome: string; counts: Record<string, number> }; findings: { kind: string; details: Record<string, unknown> }[] }
  t.equal(body.run.outcome, 'mismatches')
  t.match(body.findings, [{ kind: 'balance_mismatch', details: { walletId, ledgerBalance: '0.00', circleBalance: '4.50' } }])
  t.equal(json.stderr.includes('['), false, 'no progress bar with --json')

  const bad = await cli(env, 'reconcile', '--nope')
  t.equal(bad.status, 2, 'bad usage')
})

t.test('Ctrl-C ends a run as failed, "interrupted by SIGINT", and exits 130: the run is never left running', async (t) => {
  const { url, db } = await testDatabase(t)
  const { url: circleUrl, circle } = await simulatedCircle(t)
  await circle.createWallet({ idempotencyKey: randomUUID() })
  // One Circle call every 5 s: the run is still going when it is interrupted.
  const env = { DATABASE_URL: url, CIRCLE_API_KEY: 'SIM_KEY', CIRCLE_BASE_URL: circleUrl, CARD_ISSUER_URL: circleUrl, CARD_ISSUER_API_KEY: 'SIM_KEY', RECONCILE_GRACE: '0', CIRCLE_RATE_PER_SECOND: '0.2' }
  const { child, done } = started(env, 'reconcile')
  await until(async () => (await db.selectFrom('reconciliation_runs').select('status').execute()).some((r) => r.status === 'running'), 30_000, 'the run started')
  child.kill('SIGINT')
  const interrupted = await done
  t.equal(interrupted.status, 130, `exit ${interrupted.status}, signal ${interrupted.signal}: ${interrupted.stderr}`)
  t.match(interrupted.stderr, /SIGINT: stopping the run/)
  t.match(interrupted.stdout, /run [0-9a-f-]{36}: failed \(interrupted by SIGINT\)/)
  const runs = await db.selectFrom('reconciliation_runs').select(['status', 'error']).execute()
  t.same(runs, [{ status: 'failed', error: 'interrupted by SIGINT' }], 'recorded as failed, with why')
})
