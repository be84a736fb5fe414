import t from 'tap'
import { PostgresEventStore } from '../../../src/adapters/event-store/postgres.ts'
import { runCli } from '../../helpers/cli.ts'
import { testDatabase } from '../../helpers/database.ts'
import { runLedger } from '../../helpers/ledger.ts'
import { randomOperations } from '../../helpers/random-operations.ts'
import { changeAuditHash, changeOneByteOfEvent, deleteAuditRow } from '../../helpers/tamper.ts'

t.test('audit verify: exit 0 on an untouched log, exit 1 naming the exact position of each tampering', async (t) => {
  const { db, pool, url } = await testDatabase(t)
  const store = new PostgresEventStore(pool, { pollIntervalMs: 50 })
  t.teardown(() => store.close())
  await randomOperations(store, { steps: 60, maxWallets: 3 })
  const { settle } = runLedger(t, store, db, { readModels: false })
  await settle()
  const head = (await store.head())!
  const total = store.distance(undefined, head)

  const clean = await runCli(url, ['audit', 'verify'])
  t.equal(clean.status, 0, 'exit 0', { stderr: clean.stderr })
  t.equal(clean.stdout, `verified ${total} events up to position ${head}\n`)

  const { rows } = await pool.query<{ position: string }>(`SELECT position::text FROM events WHERE data ? 'amount' ORDER BY position DESC LIMIT 1`)
  const target = rows[0]!.position
  const changed = await changeOneByteOfEvent(pool, target)
  const tampered = await runCli(url, ['audit', 'verify'])
  t.equal(tampered.status, 1)
  t.match(tampered.stdout, new RegExp(`^chain broken at position ${target}: data_changed: .*data\\.amount`))
  const json = await runCli(url, ['--json', 'audit', 'verify'])
  t.equal(json.status, 1)
  t.match(JSON.parse(json.stdout), { ok: false, break: { position: target, kind: 'data_changed' } })
  await changed.restore()

  const putBack = await deleteAuditRow(pool, '3')
  const missing = await runCli(url, ['audit', 'verify'])
  t.equal(missing.status, 1)
  t.match(missing.stdout, /^chain broken at position 3: row_missing/)
  await putBack()

  const restore = await changeAuditHash(pool, '5')
  const forged = await runCli(url, ['audit', 'verify'])
  t.equal(forged.status, 1)
  t.match(forged.stdout, /^chain broken at position 5: hash_mismatch/)
  const before = await runCli(url, ['audit', 'verify', '--to', '4'])
  t.equal(before.status, 0)
  t.equal(before.stdout, 'verified 4 events up to position 4\n')
  await restore()

  const ranged = await runCli(url, ['--json', 'audit', 'verify', '--from', '2', '--to', '6'])
  t.match(JSON.parse(ranged.stdout), { ok: true, verified: 5, position: '6' })
  t.equal((await runCli(url, ['audit', 'verify', '--from', 'x'])).status, 2, 'a bad position is a usage error')
  t.equal((await runCli(url, ['audit', 'check'])).status, 2)
})
