import { jetstream, jetstreamManager } from '@nats-io/jetstream'
import { connect } from '@nats-io/transport-node'
import t from 'tap'
import { auditHeadSubject, NOTIFICATION_SCHEMA_VERSION } from '../../../src/adapters/nats/notification.ts'
import { ensureLedgerStream } from '../../../src/adapters/nats/stream.ts'
import { PostgresEventStore } from '../../../src/adapters/event-store/postgres.ts'
import { runCli } from '../../helpers/cli.ts'
import { testDatabase } from '../../helpers/database.ts'
import { testStream } from '../../helpers/nats.ts'
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

t.test('audit verify --against-nats: the heads published on NATS must be links of the stored chain', async (t) => {
  const { db, pool, url } = await testDatabase(t)
  const store = new PostgresEventStore(pool, { pollIntervalMs: 50 })
  t.teardown(() => store.close())
  await randomOperations(store, { steps: 20, maxWallets: 2 })
  const { settle } = runLedger(t, store, db, { readModels: false })
  await settle()
  const stream = testStream(t)
  const nc = await connect({ servers: stream.servers })
  t.teardown(() => nc.close())
  await ensureLedgerStream(await jetstreamManager(nc), stream)
  const js = jetstream(nc)
  const publish = (position: string, hash: string) =>
    js.publish(auditHeadSubject(stream.subjectPrefix), JSON.stringify({ schemaVersion: NOTIFICATION_SCHEMA_VERSION, position, hash, at: new Date().toISOString() }))
  const stored = async (position: string) => (await db.selectFrom('audit_log').select('hash').where('position', '=', position).executeTakeFirstOrThrow()).hash
  await publish('4', await stored('4'))
  await publish('8', await stored('8'))
  const env = { NATS_URL: stream.servers, NATS_STREAM: stream.name, NATS_SUBJECT_PREFIX: stream.subjectPrefix }

  const clean = await runCli(url, ['audit', 'verify', '--against-nats'], env)
  t.equal(clean.status, 0, clean.stderr)
  t.match(clean.stdout, /2 heads published on NATS match the stored chain/)

  // A rewritten table that still chains (every hash recomputed) no longer passes through a published head.
  await publish('5', 'f'.repeat(64))
  const rewritten = await runCli(url, ['audit', 'verify', '--against-nats'], env)
  t.equal(rewritten.status, 1)
  t.match(rewritten.stdout, new RegExp(`published head at position 5 .* is ${'f'.repeat(64)}; the stored chain has ${await stored('5')}`))
  const json = await runCli(url, ['--json', 'audit', 'verify', '--against-nats'], env)
  t.match(JSON.parse(json.stdout), { ok: true, publishedHeads: { checked: 3, mismatches: [{ position: '5' }] } })

  // A stream where no head was published (another environment's, or the notifier never ran) verifies nothing: exit 1.
  const empty = testStream(t)
  await ensureLedgerStream(await jetstreamManager(nc), empty)
  const nowhere = await runCli(url, ['audit', 'verify', '--against-nats'], { NATS_URL: empty.servers, NATS_STREAM: empty.name, NATS_SUBJECT_PREFIX: empty.subjectPrefix })
  t.equal(nowhere.status, 1, 'no heads: not a pass')
  t.match(nowhere.stdout, /no audit heads found in NATS stream .* nothing to check them against/)
})
