import t from 'tap'
import { PostgresEventStore } from '../../../src/adapters/event-store/postgres.ts'
import { runCli } from '../../helpers/cli.ts'
import { testDatabase } from '../../helpers/database.ts'
import { runLedger } from '../../helpers/ledger.ts'
import { randomOperations } from '../../helpers/random-operations.ts'

t.test('journal check: exit 0 when the journal holds, exit 1 naming the first account that does not', async (t) => {
  const { db, pool, url } = await testDatabase(t)
  const store = new PostgresEventStore(pool, { pollIntervalMs: 50 })
  t.teardown(() => store.close())
  const run = await randomOperations(store, { steps: 80, maxWallets: 3 })
  const { settle, ledger } = runLedger(t, store, db)
  await settle()
  await ledger.stop()

  const ok = await runCli(url, ['journal', 'check'])
  t.equal(ok.status, 0, 'exit 0', { stderr: ok.stderr })
  t.match(ok.stdout, new RegExp(`^journal holds: \\d+ entries, \\d+ accounts, trial balance 0, ${run.wallets.length} wallets agree at position \\d+`))

  const [first] = [...run.wallets].sort()
  await pool.query('UPDATE wallets SET reserved = reserved + 1 WHERE id = $1', [first])
  const broken = await runCli(url, ['journal', 'check'])
  t.equal(broken.status, 1)
  t.match(broken.stdout, `journal check failed: account wallet:${first}:held: wallet_held:`)
  const json = await runCli(url, ['--json', 'journal', 'check'])
  t.equal(json.status, 1)
  t.match(JSON.parse(json.stdout), { ok: false, failure: { account: `wallet:${first}:held` } })
  t.equal((await runCli(url, ['journal'])).status, 2)
})
