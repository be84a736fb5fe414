import { spawnSync } from 'node:child_process'
import path from 'node:path'
import t from 'tap'
import { PostgresEventStore } from '../../../src/adapters/event-store/postgres.ts'
import { ledgerProjections } from '../../../src/ledger/index.ts'
import { readModels } from '../../../src/projections/index.ts'
import { ProjectionRunner } from '../../../src/subscriptions/projection-runner.ts'
import { tryLease } from '../../../src/subscriptions/lease.ts'
import { shadowSchema } from '../../../src/subscriptions/rebuild.ts'
import { testDatabase } from '../../helpers/database.ts'
import { newEvent } from '../../helpers/events.ts'

const root = path.resolve(import.meta.dirname, '../../..')

t.test('projections status and rebuild, human and --json', async (t) => {
  const { url, db, pool } = await testDatabase(t)
  const store = new PostgresEventStore(pool)
  t.teardown(() => store.close())
  const cli = (...args: string[]) => spawnSync(process.execPath, ['src/cli/main.ts', ...args], { cwd: root, env: { PATH: process.env.PATH, DATABASE_URL: url }, encoding: 'utf8' })

  const walletId = '11111111-1111-4111-8111-111111111111'
  await store.append(`wallet-${walletId}`, [newEvent('WalletCreationRequested', { walletId, ownerId: 'o' }), newEvent('FundsCredited', { walletId, operationId: 'x', amount: '5', source: 'deposit' })], { expected: 'no_stream' })

  const never = JSON.parse(cli('--json', 'projections', 'status').stdout)
  t.match(never, { head: '2' })
  t.same(never.projections.map((p: { name: string; lag: number }) => [p.name, p.lag]), [...readModels, ...ledgerProjections].map((p) => [p.name, 2]), 'lag is the whole log before the first run (read models, journal, audit log)')
  t.match(cli('projections', 'rebuild', 'wallets').stdout, /wallets: skipped: projection projection:wallets@v1 has not run yet/)

  const runner = new ProjectionRunner({ projections: readModels, store, db })
  runner.start()
  await runner.caughtUp('2')
  await runner.stop()
  await store.append(`wallet-${walletId}`, [newEvent('FundsCredited', { walletId, operationId: 'y', amount: '7', source: 'deposit' })], { expected: 1 })

  const status = cli('projections', 'status')
  t.equal(status.status, 0, status.stderr)
  t.match(status.stdout, /event store head: 3/)
  t.match(status.stdout, /wallets\s+v1\s+checkpoint\s+2\s+lag 1/)

  const rebuilt = cli('projections', 'rebuild', '--all')
  t.equal(rebuilt.status, 0, rebuilt.stderr)
  t.match(rebuilt.stdout, /wallets v1: 2 events to position 2 in [\d.]+ s, swapped in \(tables replaced\)/, 'rebuilt up to the live checkpoint, not beyond, its tables put in place of the live ones')
  t.match(rebuilt.stderr, /rebuild wallets \[.*\] \d+% \| \d+\/\d+ events \| \d+ events\/s \| ETA/, 'a progress bar with events/s and ETA on stderr')
  t.equal((await db.selectFrom('wallets').select('available').executeTakeFirstOrThrow()).available, '5')

  const json = JSON.parse(cli('--json', 'projections', 'rebuild', 'mints').stdout)
  t.same(json.rebuilt.map((r: { name: string }) => r.name), ['mints'])
  t.equal(json.rebuilt[0].swapped, 'replaced', 'the JSON says how the rebuilt tables went live')

  t.equal(cli('projections', 'status', '--bogus').status, 2, 'status takes no arguments')
  t.equal(cli('projections', 'rebuild').status, 2, 'no name is a usage error')
  t.equal(cli('projections', 'rebuild', 'nope').status, 2, 'an unknown name is a usage error')
  t.equal(cli('projections').status, 2)
  t.equal(cli('nope').status, 2)
})

t.test('rebuild --all goes on past a projection it cannot rebuild, reports each, and exits 1', async (t) => {
  const { url, db, pool } = await testDatabase(t)
  const store = new PostgresEventStore(pool)
  t.teardown(() => store.close())
  const walletId = '22222222-2222-4222-8222-222222222222'
  await store.append(`wallet-${walletId}`, [newEvent('WalletCreationRequested', { walletId, ownerId: 'o' }), newEvent('FundsCredited', { walletId, operationId: 'x', amount: '5', source: 'deposit' })], { expected: 'no_stream' })
  const runner = new ProjectionRunner({ projections: readModels, store, db })
  runner.start()
  await runner.caughtUp('2')
  await runner.stop()
  // Another rebuild of mints holds its lock.
  const mints = readModels.find((p) => p.name === 'mints')!
  const held = await tryLease(pool, `rebuild:${shadowSchema(mints)}`)
  t.ok(held)
  t.teardown(() => held?.release())

  const run = spawnSync(process.execPath, ['src/cli/main.ts', '--json', 'projections', 'rebuild', '--all'], { cwd: root, env: { PATH: process.env.PATH, DATABASE_URL: url }, encoding: 'utf8' })
  t.equal(run.status, 1, run.stderr)
  const results = JSON.parse(run.stdout).rebuilt as { name: string; failed?: string; events?: number }[]
  t.same(results.map((r) => r.name), [...readModels, ...ledgerProjections].map((p) => p.name), 'every projection is reported, those after mints too')
  t.match(results.find((r) => r.name === 'mints'), { failed: /mints is being rebuilt by another process/ })
  t.same(results.filter((r) => r.failed !== undefined).map((r) => r.name), ['mints'])
  t.match(results.find((r) => r.name === 'wallets'), { events: 2 })
  const human = spawnSync(process.execPath, ['src/cli/main.ts', 'projections', 'rebuild', '--all'], { cwd: root, env: { PATH: process.env.PATH, DATABASE_URL: url }, encoding: 'utf8' })
  t.match(human.stdout, /mints: failed, left as it was: projection mints is being rebuilt/)
})
