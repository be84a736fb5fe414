import { sql } from 'kysely'
import t from 'tap'
import type { Db } from '../../src/adapters/postgres/database.ts'
import { readModels } from '../../src/projections/index.ts'
import { readCheckpoint } from '../../src/subscriptions/checkpoints.ts'
import { checkpointName } from '../../src/subscriptions/projection.ts'
import { rebuildProjection, type RebuildProgress } from '../../src/subscriptions/rebuild.ts'
import { auth } from '../helpers/app.ts'
import { httpHarness } from '../helpers/http.ts'
import { mixedOperations } from '../helpers/workload.ts'

/** Every row of a table, in a stable order, as comparable JSON. */
async function rows(db: Db, schema: string, table: string): Promise<string[]> {
  const res = await sql<{ r: string }>`SELECT row_to_json(x)::text AS r FROM ${sql.id(schema, table)} x ORDER BY 1`.execute(db)
  return res.rows.map((r) => r.r)
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
