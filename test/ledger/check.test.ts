import t from 'tap'
import { PostgresEventStore } from '../../src/adapters/event-store/postgres.ts'
import { checkJournal } from '../../src/ledger/check.ts'
import { testDatabase } from '../helpers/database.ts'
import { runLedger } from '../helpers/ledger.ts'
import { randomOperations } from '../helpers/random-operations.ts'

t.test('journal check names the first account that does not hold', async (t) => {
  const { db, pool } = await testDatabase(t)
  const store = new PostgresEventStore(pool, { pollIntervalMs: 50 })
  t.teardown(() => store.close())
  const run = await randomOperations(store, { steps: 150, maxWallets: 3 })
  const { settle, ledger } = runLedger(t, store, db)
  await settle()
  t.match(await checkJournal(db), { ok: true, wallets: run.wallets.length })
  // Stop the projections so nothing repairs or moves what the test changes.
  await ledger.stop()

  const [first] = [...run.wallets].sort()
  await pool.query('UPDATE wallets SET available = available + 1 WHERE id = $1', [first])
  const available = await checkJournal(db)
  t.match(available, { ok: false, failure: { account: `wallet:${first}:available`, rule: 'wallet_available' } }, 'a read model that disagrees')
  t.match(available.failure!.message, /^wallet \S+: journal available \d+\.\d{2}, read model available \d+\.\d{6}$/, 'in decimal USD, a micro-unit apart')
  await pool.query('UPDATE wallets SET available = available - 1, reserved = reserved + 5 WHERE id = $1', [first])
  t.match(await checkJournal(db), { ok: false, failure: { account: `wallet:${first}:held`, rule: 'wallet_held' } })
  await pool.query('UPDATE wallets SET reserved = reserved - 5 WHERE id = $1', [first])
  t.ok((await checkJournal(db)).ok, 'restored')

  await pool.query(`UPDATE journal_accounts SET balance = balance + 1 WHERE account = 'circle:treasury'`)
  const drifted = await checkJournal(db)
  t.match(drifted, { ok: false, failure: { account: 'circle:treasury', rule: 'running_balance' } }, 'a kept balance that drifted from its postings')
  t.match(drifted.failure!.message, /^account circle:treasury keeps balance -\d+\.\d{6} but its postings sum to -\d+\.\d{2} \(last running balance -\d+\.\d{2}\)$/)
  await pool.query(`UPDATE journal_accounts SET balance = balance - 1 WHERE account = 'circle:treasury'`)

  const { rows } = await pool.query<{ position_key: string; account: string }>(`SELECT position_key, account FROM journal_postings WHERE seq = 1 ORDER BY position_key LIMIT 1`)
  await pool.query('UPDATE journal_postings SET amount = amount + 1 WHERE position_key = $1 AND seq = 1', [rows[0]!.position_key])
  const unbalanced = await checkJournal(db)
  t.match(unbalanced, { ok: false, failure: { rule: 'entry_unbalanced' } }, 'an entry that does not sum to zero')
  t.match(unbalanced.failure!.message, /sums to 0\.000001, not 0\.00/, 'one micro-unit, shown as USD')
})
