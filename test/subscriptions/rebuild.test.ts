import { sql } from 'kysely'
import t from 'tap'
import { PostgresEventStore } from '../../src/adapters/event-store/postgres.ts'
import type { EventStore, ReadAllOptions } from '../../src/events/event-store.ts'
import { bankAccounts } from '../../src/projections/bank-accounts.ts'
import type { Db } from '../../src/adapters/postgres/database.ts'
import { readModels } from '../../src/projections/index.ts'
import { readCheckpoint } from '../../src/subscriptions/checkpoints.ts'
import { checkpointName } from '../../src/subscriptions/projection.ts'
import { DEFAULT_REBUILD_BATCH, RebuildInProgress, rebuildProjection, type RebuildProgress } from '../../src/subscriptions/rebuild.ts'
import { auth } from '../helpers/app.ts'
import { until } from '../helpers/circle.ts'
import { httpHarness } from '../helpers/http.ts'
import { advisoryLockHolder, terminateLockHolder } from '../helpers/database.ts'
import { mixedOperations } from '../helpers/workload.ts'

/** Every row of a table, in a stable order, as comparable JSON. */
async function rows(db: Db, schema: string, table: string): Promise<string[]> {
  const res = await sql<{ r: string }>`SELECT row_to_json(x)::text AS r FROM ${sql.id(schema, table)} x ORDER BY 1`.execute(db)
  return res.rows.map((r) => r.r)
}

/** `store`, whose first read of the log waits until `release()`; `reading` resolves when that read starts. */
function heldAtFirstRead(store: EventStore) {
  const gate = Promise.withResolvers<void>()
  const reading = Promise.withResolvers<void>()
  const held: EventStore = Object.assign(Object.create(store) as EventStore, {
    readAll: async (options: ReadAllOptions) => {
      reading.resolve()
      await gate.promise
      return store.readAll(options)
    },
  })
  return { store: held, reading: reading.promise, release: () => gate.resolve() }
}

t.test('every read model rebuilt from position 0 equals the live one row by row, and the service answers throughout', async (t) => {
  const h = await httpHarness(t)
  const sent = await mixedOperations(h, 300)
  t.ok(sent >= 300, `${sent} mixed operations through the API`)
  const head = (await h.store.head())!
  await h.projections.caughtUp(head)

  for (const projection of readModels) {
    const shadow = await rebuildProjection({ db: h.db, store: h.store, projection, swap: false })
    for (const table of projection.tables) {
      const live = await rows(h.db, 'public', table)
      t.ok(live.length > 0, `${table} has rows`)
      t.same(await rows(h.db, shadow.schema, table), live, `${projection.name}: ${table} rebuilt = live (${live.length} rows)`)
    }
    await sql`DROP SCHEMA ${sql.id(shadow.schema)} CASCADE`.execute(h.db)
  }

  // Now swap every one in while GETs keep coming: none may fail, and the tables end as they were.
  const before = new Map<string, string[]>()
  for (const p of readModels) for (const table of p.tables) before.set(table, await rows(h.db, 'public', table))
  const walletIds = (await h.db.selectFrom('wallets').select('id').execute()).map((r) => r.id)
  let reading = true
  const statuses: number[] = []
  const reader = (async () => {
    while (reading) {
      for (const id of walletIds) statuses.push((await h.app.inject({ method: 'GET', url: `/wallets/${id}`, headers: auth.backend })).statusCode)
      statuses.push((await h.app.inject({ method: 'GET', url: '/mints?limit=5', headers: auth.backend })).statusCode)
    }
  })()
  const progress: RebuildProgress[] = []
  for (const projection of readModels) {
    const result = await rebuildProjection({ db: h.db, store: h.store, projection, batchSize: 50, onProgress: (p) => progress.push(p) })
    t.equal(result.position, head, `${projection.name} swapped in at the live checkpoint`)
    t.equal(await readCheckpoint(h.db, checkpointName(projection)), head)
  }
  reading = false
  await reader
  t.ok(statuses.length > 10, `${statuses.length} reads during the rebuild`)
  t.same([...new Set(statuses)], [200], 'every read during the rebuild answered 200')
  for (const [table, expected] of before) t.same(await rows(h.db, 'public', table), expected, `${table} after the swap = before`)
  t.ok(progress.some((p) => p.total !== undefined && p.scanned !== undefined && p.scanned > 0), 'progress reports scanned and total positions')
  const schemas = await sql<{ n: string }>`SELECT count(*) AS n FROM pg_namespace WHERE nspname LIKE 'rebuild_%'`.execute(h.db)
  t.equal(schemas.rows[0]!.n, '0', 'no shadow schema is left behind')
})

t.test('a rebuild reads full pages of a projection’s events however narrow the store’s own window, and pages of 20,000 by default', async (t) => {
  const h = await httpHarness(t)
  await mixedOperations(h, 80)
  const head = (await h.store.head())!
  await h.projections.caughtUp(head)
  // A store over the same log that scans 4 positions per filtered read unless told otherwise.
  const narrow = new PostgresEventStore(h.pool, { scanWindow: 4 })
  t.teardown(() => narrow.close())
  const reads: ReadAllOptions[] = []
  const counting: EventStore = Object.assign(Object.create(narrow) as EventStore, {
    readAll: (options: ReadAllOptions) => {
      reads.push(options)
      return narrow.readAll(options)
    },
  })
  const handled = (await h.store.readAll({ maxCount: 100_000, filter: { types: bankAccounts.projection.handles } })).events.length
  t.ok(handled > 0 && handled * 10 < Number(head), `bank accounts' events (${handled}) are rare in a log of ${head}`)

  const shadow = await rebuildProjection({ db: h.db, store: counting, projection: bankAccounts.projection, swap: false, batchSize: 10 })
  t.same(await rows(h.db, shadow.schema, 'bank_accounts'), await rows(h.db, 'public', 'bank_accounts'), 'rebuilt = live')
  await sql`DROP SCHEMA ${sql.id(shadow.schema)} CASCADE`.execute(h.db)
  // Pages of 10 are read with a window of at least 10,000 positions: the log in a read or two, where the store's 4 would take head / 4.
  t.ok(reads.length <= 3, `${reads.length} reads of ${head} positions (the store's window would need ${Math.ceil(Number(head) / 4)})`)
  t.ok(reads.every((r) => r.maxCount === 10 && r.scanWindow !== undefined && r.scanWindow >= 10_000), 'pages of 10, each read with a window of 10,000 positions or more')
  for (const batchSize of [0, -5, 2.5]) {
    await t.rejects(rebuildProjection({ db: h.db, store: counting, projection: bankAccounts.projection, swap: false, batchSize }), RangeError, `batchSize ${batchSize} is refused`)
  }

  reads.length = 0
  const again = await rebuildProjection({ db: h.db, store: counting, projection: bankAccounts.projection, swap: false })
  await sql`DROP SCHEMA ${sql.id(again.schema)} CASCADE`.execute(h.db)
  t.equal(DEFAULT_REBUILD_BATCH, 20_000)
  t.same([...new Set(reads.map((r) => r.maxCount))], [DEFAULT_REBUILD_BATCH], 'pages of 20,000 events unless the caller says otherwise')
  t.ok(reads.length <= 2, `the whole log in one window (${reads.length} reads)`)
})

t.test('one rebuild of a projection at a time: a second one is refused while the first runs, and the first swaps in the right rows', async (t) => {
  const h = await httpHarness(t)
  await mixedOperations(h, 60)
  const head = (await h.store.head())!
  await h.projections.caughtUp(head)
  const before = await rows(h.db, 'public', 'wallets')
  // The first rebuild stops at its first read of the log until the second one has been tried.
  const held = heldAtFirstRead(h.store)
  const projection = readModels.find((p) => p.name === 'wallets')!
  const first = rebuildProjection({ db: h.db, pool: h.pool, store: held.store, projection })
  await held.reading
  await t.rejects(rebuildProjection({ db: h.db, pool: h.pool, store: h.store, projection }), RebuildInProgress, 'the second rebuild is refused')
  await t.rejects(rebuildProjection({ db: h.db, pool: h.pool, store: h.store, projection, swap: false }), /wallets is being rebuilt by another process or command/, 'with a message that says so')
  held.release()
  const result = await first
  t.equal(result.swapped, 'replaced', 'the first one swapped in')
  t.same(await rows(h.db, 'public', 'wallets'), before, 'with the same rows as before: nothing of a second rebuild mixed in')
  const again = await rebuildProjection({ db: h.db, pool: h.pool, store: h.store, projection })
  t.equal(again.position, head, 'once it has finished, the next rebuild runs')
  // Other projections are not held up by one's rebuild.
  const other = await rebuildProjection({ db: h.db, pool: h.pool, store: h.store, projection: bankAccounts.projection, swap: false })
  await sql`DROP SCHEMA ${sql.id(other.schema)} CASCADE`.execute(h.db)
})

t.test('a rebuild whose lock connection ends stops before its swap; the process lives on and the live rows stay', async (t) => {
  const h = await httpHarness(t)
  await mixedOperations(h, 60)
  await h.projections.caughtUp((await h.store.head())!)
  const before = await rows(h.db, 'public', 'wallets')
  const lockedBy = () => advisoryLockHolder(h.db, 'rebuild:rebuild_wallets')
  const held = heldAtFirstRead(h.store)
  const projection = readModels.find((p) => p.name === 'wallets')!
  const rebuilding = rebuildProjection({ db: h.db, pool: h.pool, store: held.store, projection })
  rebuilding.catch(() => undefined)
  await held.reading
  const pid = await lockedBy()
  t.ok(pid, 'the lock is held by a session')
  // The server ends that session (a restart, a DBA, idle_session_timeout): an unhandled 'error' there would end this process.
  await terminateLockHolder(h.db, 'rebuild:rebuild_wallets')
  await until(async () => (await lockedBy()) === undefined, 5000, 'lock released')
  held.release()
  await t.rejects(rebuilding, /lease rebuild:rebuild_wallets lost/, 'the rebuild stops, saying why')
  t.same(await rows(h.db, 'public', 'wallets'), before, 'nothing was swapped in')
  const again = await rebuildProjection({ db: h.db, pool: h.pool, store: h.store, projection })
  t.equal(again.swapped, 'replaced', 'the next rebuild runs and swaps')
  t.same(await rows(h.db, 'public', 'wallets'), before)
})
