import { spawn, type ChildProcess } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { sql } from 'kysely'
import t, { type Test } from 'tap'
import { PostgresEventStore } from '../../src/adapters/event-store/postgres.ts'
import type { NewEvent } from '../../src/events/event-store.ts'
import { readModels } from '../../src/projections/index.ts'
import { wallets } from '../../src/projections/wallets.ts'
import { readCheckpoint } from '../../src/subscriptions/checkpoints.ts'
import { checkpointName } from '../../src/subscriptions/projection.ts'
import { ProjectionRunner } from '../../src/subscriptions/projection-runner.ts'
import { testDatabase } from '../helpers/database.ts'
import { testMetadata } from '../helpers/events.ts'

const root = path.resolve(import.meta.dirname, '../..')

/** `wallets` wallets, each created and credited `credits` times with amounts 1..credits micro-units. */
async function fundedWallets(store: PostgresEventStore, count: number, credits: number): Promise<Map<string, bigint>> {
  const expected = new Map<string, bigint>()
  for (let w = 0; w < count; w++) {
    const walletId = randomUUID()
    const ev = (type: string, data: NewEvent['data']): NewEvent => ({ id: randomUUID(), type, data, metadata: testMetadata() })
    const events = [ev('WalletCreationRequested', { walletId, ownerId: `owner-${w % 7}` }), ev('WalletCreated', { walletId, circleWalletId: `cw-${w}` })]
    let sum = 0n
    for (let i = 1; i <= credits; i++) {
      events.push(ev('FundsCredited', { walletId, operationId: randomUUID(), amount: String(i), source: 'deposit' }))
      sum += BigInt(i)
    }
    await store.append(`wallet-${walletId}`, events, { expected: 'no_stream' })
    expected.set(walletId, sum)
  }
  return expected
}

t.test('a projection killed mid-batch restarts and neither loses nor double-applies an event', async (t) => {
  const { url, db, pool } = await testDatabase(t)
  const store = new PostgresEventStore(pool)
  t.teardown(() => store.close())
  const expected = await fundedWallets(store, 150, 150)
  const head = (await store.head())!
  const name = checkpointName(wallets.projection)

  const children: ChildProcess[] = []
  t.teardown(() => children.forEach((c) => c.kill('SIGKILL')))
  const startChild = () => {
    const child = spawn(process.execPath, ['src/main.ts', '--role', 'projections'], {
      cwd: root,
      stdio: ['ignore', 'ignore', 'inherit'],
      env: { PATH: process.env.PATH, DATABASE_URL: url, LOG_LEVEL: 'silent'},
    })
    children.push(child)
    return child
  }

  // Kill the projector while it has a transaction open, three times, at different points of the log.
  let killedInsideTransaction = 0
  for (let round = 0; round < 3; round++) {
    const child = startChild()
    const before = await readCheckpoint(db, name)
    const deadline = Date.now() + 30_000
    while (Date.now() < deadline) {
      const open = await sql<{ n: string }>`
        SELECT count(*) AS n FROM pg_stat_activity
        WHERE datname = current_database() AND pid <> pg_backend_pid() AND xact_start IS NOT NULL AND state <> 'idle'
          AND query NOT ILIKE '%pg_stat_activity%'`.execute(db)
      const moved = (await readCheckpoint(db, name)) !== before
      if (moved && Number(open.rows[0]!.n) > 0) {
        child.kill('SIGKILL')
        killedInsideTransaction++
        break
      }
      await sleep(5)
    }
    await new Promise((resolve) => (child.exitCode !== null ? resolve(null) : child.once('exit', resolve)))
    const at = await readCheckpoint(db, name)
    if (at === head) break
  }
  t.ok(killedInsideTransaction >= 1, `the projector was killed inside a transaction ${killedInsideTransaction} time(s)`)

  startChild()
  const deadline = Date.now() + 60_000
  while ((await readCheckpoint(db, name)) !== head && Date.now() < deadline) await sleep(50)
  t.equal(await readCheckpoint(db, name), head, 'the restarted projector caught up')
  for (const projection of readModels) t.equal(await readCheckpoint(db, checkpointName(projection)), head, `${projection.name} checkpoint at the head`)

  const rows = await db.selectFrom('wallets').select(['id', 'available', 'revision']).execute()
  t.equal(rows.length, expected.size, 'one row per wallet')
  const wrong = rows.filter((r) => BigInt(r.available) !== expected.get(r.id) || r.revision !== 151)
  t.same(wrong, [], 'every wallet holds exactly the sum of its credits, each applied once')
})

/** A database whose read models have projected `count` funded wallets (see fundedWallets), then stopped. */
async function projectedOnce(t: Test, count: number, credits: number) {
  const { db, pool } = await testDatabase(t)
  const store = new PostgresEventStore(pool, { pollIntervalMs: 50 })
  t.teardown(() => store.close())
  const expected = await fundedWallets(store, count, credits)
  const first = new ProjectionRunner({ projections: readModels, store, db })
  first.start()
  await first.caughtUp((await store.head())!)
  await first.stop()
  return { db, store, expected }
}

t.test('a projection whose version has no checkpoint is rebuilt before the group resumes', async (t) => {
  const { db, store, expected } = await projectedOnce(t, 5, 10)

  // Version 2 of the wallets read model: the old rows are damaged to prove they are replaced.
  await db.updateTable('wallets').set({ available: '0' }).execute()
  const bumped = readModels.map((p) => (p.name === 'wallets' ? { ...p, version: 2 } : p))
  const second = new ProjectionRunner({ projections: bumped, store, db })
  second.start()
  t.teardown(() => second.stop())
  const more = await fundedWallets(store, 1, 3)
  await second.caughtUp((await store.head())!)
  const rows = await db.selectFrom('wallets').select(['id', 'available']).execute()
  t.same(
    Object.fromEntries(rows.map((r) => [r.id, r.available])),
    Object.fromEntries([...expected, ...more].map(([id, sum]) => [id, sum.toString()])),
    'rebuilt from position 0, then kept up with new events',
  )
  t.equal(await readCheckpoint(db, 'projection:wallets@v1'), undefined, 'the old version checkpoint is gone')
  t.equal(await readCheckpoint(db, 'projection:wallets@v2'), await store.head())
})

t.test('a group with no checkpoint for any of its versions starts empty, and the other versions\' checkpoints go', async (t) => {
  const { db, store, expected } = await projectedOnce(t, 3, 4)

  // Every model at a new version: nothing to rebuild from, so the tables are emptied and refilled.
  // The old checkpoints must not outlive their rows: an older process would take the new rows for its own.
  const bumped = readModels.map((p) => ({ ...p, version: p.version + 1 }))
  const second = new ProjectionRunner({ projections: bumped, store, db })
  second.start()
  t.teardown(() => second.stop())
  await second.caughtUp((await store.head())!)
  const names = (await db.selectFrom('checkpoints').select('name').where('name', 'like', 'projection:%').execute()).map((r) => r.name).sort()
  t.same(names, bumped.map(checkpointName).sort(), 'only the new versions\' checkpoints remain')
  const rows = await db.selectFrom('wallets').select(['id', 'available']).execute()
  t.same(Object.fromEntries(rows.map((r) => [r.id, r.available])), Object.fromEntries([...expected].map(([id, sum]) => [id, sum.toString()])), 'projected again from the beginning')
})
