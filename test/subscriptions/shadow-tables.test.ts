import { randomBytes } from 'node:crypto'
import { sql } from 'kysely'
import t, { type Test } from 'tap'
import { PostgresEventStore } from '../../src/adapters/event-store/postgres.ts'
import type { Db } from '../../src/adapters/postgres/database.ts'
import { journal } from '../../src/ledger/journal.ts'
import { checkpointName } from '../../src/subscriptions/projection.ts'
import { rebuildProjection, shadowSchema } from '../../src/subscriptions/rebuild.ts'
import { createShadowTable, describeTable, finishShadowTables } from '../../src/subscriptions/shadow-tables.ts'
import { testDatabase } from '../helpers/database.ts'
import { runLedger } from '../helpers/ledger.ts'
import { randomOperations } from '../helpers/random-operations.ts'

/** What a swap must keep of a table, by name: its indexes and constraints as PostgreSQL writes them, who may do what, its persistence, its columns' statistics targets. */
async function shape(db: Db, table: string) {
  const res = await sql<{ oid: string; persistence: string; indexes: string[]; constraints: string[]; grants: string[]; statistics: string[] }>`
    SELECT c.oid::text, c.relpersistence AS persistence,
      ARRAY(SELECT indexname || ': ' || indexdef FROM pg_indexes WHERE schemaname = 'public' AND tablename = c.relname ORDER BY 1) AS indexes,
      ARRAY(SELECT conname || ': ' || pg_get_constraintdef(k.oid) FROM pg_constraint k WHERE k.conrelid = c.oid ORDER BY 1) AS constraints,
      ARRAY(SELECT grantee || ' ' || privilege_type FROM information_schema.role_table_grants g
            WHERE g.table_schema = 'public' AND g.table_name = c.relname AND g.grantee <> current_user ORDER BY 1) AS grants,
      ARRAY(SELECT attname || ' ' || coalesce(attstattarget, -1) FROM pg_attribute WHERE attrelid = c.oid AND attnum > 0 AND NOT attisdropped ORDER BY attnum) AS statistics
    FROM pg_class c WHERE c.oid = ${`public.${table}`}::regclass`.execute(db)
  const row = res.rows[0]!
  return { oid: row.oid, state: { persistence: row.persistence, indexes: row.indexes, constraints: row.constraints, grants: row.grants, statistics: row.statistics } }
}

async function contents(db: Db, table: string): Promise<string[]> {
  return (await sql<{ r: string }>`SELECT row_to_json(x)::text AS r FROM ${sql.id('public', table)} x ORDER BY 1`.execute(db)).rows.map((r) => r.r)
}

/** A ledger projected from random operations, stopped: its journal tables are what the rebuilds below replace. */
async function journalled(t: Test) {
  const { db, pool } = await testDatabase(t)
  const store = new PostgresEventStore(pool, { pollIntervalMs: 50 })
  t.teardown(() => store.close())
  await randomOperations(store, { steps: 80, maxWallets: 3 })
  const { settle, ledger } = runLedger(t, store, db, { readModels: false })
  await settle()
  await ledger.stop()
  return { db, pool, store }
}

t.test('a rebuild puts its tables in place of the live ones with their indexes, constraints, privileges, statistics targets and logging, and the same rows', async (t) => {
  const { db, store } = await journalled(t)
  const role = `rebuild_reader_${randomBytes(4).toString('hex')}`
  await sql`CREATE ROLE ${sql.id(role)}`.execute(db)
  t.teardown(async () => {
    await sql`DROP OWNED BY ${sql.id(role)}`.execute(db)
    await sql`DROP ROLE ${sql.id(role)}`.execute(db)
  })
  await sql`GRANT SELECT ON journal_postings TO ${sql.id(role)}`.execute(db)
  await sql`ALTER TABLE journal_postings ALTER COLUMN wallet_id SET STATISTICS 0, ALTER COLUMN account SET STATISTICS 250`.execute(db)
  const before = new Map<string, Awaited<ReturnType<typeof shape>> & { rows: string[] }>()
  for (const table of journal.tables) before.set(table, { ...(await shape(db, table)), rows: await contents(db, table) })
  t.ok(before.get('journal_postings')!.rows.length > 10, `${before.get('journal_postings')!.rows.length} postings to rebuild`)
  t.ok(before.get('journal_postings')!.state.grants.includes(`${role} SELECT`), 'the reader role may read the postings')
  t.ok(before.get('journal_postings')!.state.statistics.includes('wallet_id 0'), 'a column of the postings has a statistics target of its own')

  const result = await rebuildProjection({ db, store, projection: journal })
  t.equal(result.swapped, 'replaced', 'the rebuilt tables took the live ones’ place')
  for (const table of journal.tables) {
    const was = before.get(table)!
    const now = await shape(db, table)
    t.not(now.oid, was.oid, `${table} is a new table`)
    t.same(now.state, was.state, `${table}: the same indexes, constraints, privileges and statistics targets under the same names, logged (${was.state.indexes.length} indexes)`)
    t.same(await contents(db, table), was.rows, `${table}: the same rows`)
  }
  for (const index of journal.deferredIndexes!) t.ok([...before.values()].some((b) => b.state.indexes.some((i) => i.startsWith(`${index}: `))), `the deferred ${index} is among them`)
  const analyzed = await sql<{ n: string }>`SELECT count(*)::text AS n FROM pg_stats WHERE schemaname = 'public' AND tablename = 'journal_postings'`.execute(db)
  t.not(analyzed.rows[0]!.n, '0', 'the planner has statistics of the new postings table')
  const schemas = await sql<{ n: string }>`SELECT count(*)::text AS n FROM pg_namespace WHERE nspname = ${shadowSchema(journal)}`.execute(db)
  t.equal(schemas.rows[0]!.n, '0', 'the shadow schema is gone')
})

t.test('a live table that something else depends on keeps its identity: the rebuilt rows are copied into it', async (t) => {
  const { db, store } = await journalled(t)
  await sql`CREATE VIEW account_balances AS SELECT account, balance FROM journal_accounts`.execute(db)
  const was = await shape(db, 'journal_accounts')
  const rows = await contents(db, 'journal_accounts')
  const result = await rebuildProjection({ db, store, projection: journal })
  t.equal(result.swapped, 'copied')
  t.equal((await shape(db, 'journal_accounts')).oid, was.oid, 'the same table, which the view still reads')
  t.same(await contents(db, 'journal_accounts'), rows, 'with the same rows')
  const viewed = await sql<{ n: string }>`SELECT count(*)::text AS n FROM account_balances`.execute(db)
  t.equal(viewed.rows[0]!.n, String(rows.length), 'the view reads them')
})

t.test('a reader holding a live table: the swap tries again, and copies the rows in after its last try', async (t) => {
  const { db, pool, store } = await journalled(t)
  const reader = await pool.connect()
  t.teardown(() => reader.release())
  await reader.query('BEGIN')
  await reader.query('SELECT count(*) FROM journal_entries')

  // The reader lets go after the first try has timed out: the second one replaces the tables.
  const was = await shape(db, 'journal_entries')
  const letGo = setTimeout(() => void reader.query('COMMIT'), 400)
  const started = performance.now()
  const replaced = await rebuildProjection({ db, store, projection: journal, swapLock: { waitMs: 250, attempts: 5 } })
  clearTimeout(letGo)
  t.equal(replaced.swapped, 'replaced', `replaced once the reader was done (${Math.round(performance.now() - started)} ms)`)
  t.not((await shape(db, 'journal_entries')).oid, was.oid)

  // A reader that stays: every try times out, and the rows are copied in, which waits for writers only.
  await reader.query('BEGIN')
  await reader.query('SELECT count(*) FROM journal_entries')
  const staying = await shape(db, 'journal_entries')
  const copied = await rebuildProjection({ db, store, projection: journal, swapLock: { waitMs: 100, attempts: 2 } })
  t.equal(copied.swapped, 'copied')
  t.equal((await shape(db, 'journal_entries')).oid, staying.oid, 'the table the reader holds stays in place')
  await reader.query('COMMIT')
})

t.test('a projection deferring an index its tables do not have is refused before anything is built', async (t) => {
  const { db, store } = await journalled(t)
  const projection = { ...journal, deferredIndexes: ['journal_postings_pkey'] }
  await t.rejects(rebuildProjection({ db, store, projection }), /defers the index journal_postings_pkey, which none of its tables has/)
  const schemas = await sql<{ n: string }>`SELECT count(*)::text AS n FROM pg_namespace WHERE nspname = ${shadowSchema(journal)}`.execute(db)
  t.equal(schemas.rows[0]!.n, '0', 'no shadow schema was made')
})

t.test('whatever a twin would not carry, or a dropped table would take with it, keeps the live table in place', async (t) => {
  const { db } = await testDatabase(t)
  await sql`CREATE TABLE probe (id int PRIMARY KEY, v text, n int)`.execute(db)
  const kept = async () => (await describeTable(db as never, 'probe')).kept
  t.equal(await kept(), undefined, 'a plain table can be replaced')
  const role = `probe_reader_${randomBytes(4).toString('hex')}`
  await sql`CREATE ROLE ${sql.id(role)}`.execute(db)
  t.teardown(async () => {
    await sql`DROP OWNED BY ${sql.id(role)}`.execute(db)
    await sql`DROP ROLE ${sql.id(role)}`.execute(db)
  })
  const cases: [string, string, string][] = [
    ['CREATE VIEW probe_view AS SELECT id FROM probe', 'DROP VIEW probe_view', 'a view or rule'],
    ['CREATE RULE probe_keep AS ON DELETE TO probe DO INSTEAD NOTHING', 'DROP RULE probe_keep ON probe', 'a view or rule'],
    ['CREATE TABLE probe_child (id int REFERENCES probe (id))', 'DROP TABLE probe_child', 'a foreign key'],
    ["CREATE FUNCTION probe_touch() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN NEW; END'; CREATE TRIGGER probe_touch BEFORE INSERT ON probe FOR EACH ROW EXECUTE FUNCTION probe_touch()", 'DROP TRIGGER probe_touch ON probe; DROP FUNCTION probe_touch()', 'a trigger'],
    ['ALTER TABLE probe ENABLE ROW LEVEL SECURITY', 'ALTER TABLE probe DISABLE ROW LEVEL SECURITY', 'row security'],
    ['ALTER TABLE probe SET (fillfactor = 70)', 'ALTER TABLE probe RESET (fillfactor)', 'storage parameters'],
    ['ALTER TABLE probe REPLICA IDENTITY FULL', 'ALTER TABLE probe REPLICA IDENTITY DEFAULT', 'a replica identity of its own'],
    ["COMMENT ON TABLE probe IS 'kept by hand'", 'COMMENT ON TABLE probe IS NULL', 'a comment on the table'],
    [`GRANT SELECT (v) ON probe TO ${role}`, `REVOKE SELECT (v) ON probe FROM ${role}`, 'column privileges'],
    ['CREATE STATISTICS probe_stats ON v, n FROM probe', 'DROP STATISTICS probe_stats', 'an extended statistics object'],
    ['ALTER TABLE probe ADD COLUMN s serial', 'ALTER TABLE probe DROP COLUMN s', 'an owned sequence or identity column'],
    ['CREATE PUBLICATION probe_pub FOR TABLE probe', 'DROP PUBLICATION probe_pub', 'a publication'],
  ]
  for (const [make, undo, reason] of cases) {
    await sql.raw(make).execute(db)
    t.equal(await kept(), reason, `${make.split(' ').slice(0, 3).join(' ')} ...: ${reason}`)
    await sql.raw(undo).execute(db)
    t.equal(await kept(), undefined, 'undone: replaceable again')
  }
  // A twin is given the live columns' statistics targets: they do not keep the table.
  await sql`ALTER TABLE probe ALTER COLUMN v SET STATISTICS 500`.execute(db)
  t.equal(await kept(), undefined, 'a statistics target of its own: replaceable')
  t.same((await describeTable(db as never, 'probe')).statistics, [{ column: 'v', target: 500 }], 'and read, for the twin')
})

t.test('a dependency no check knows of fails the replacement: the rows are copied in, the last events applied again', async (t) => {
  const { db, pool, store } = await journalled(t)
  const name = checkpointName(journal)
  const head = (await db.selectFrom('checkpoints').select('position').where('name', '=', name).executeTakeFirstOrThrow()).position!
  const rows = new Map<string, string[]>()
  for (const table of journal.tables) rows.set(table, await contents(db, table))
  // A function taking the entries' row type: DROP TABLE refuses it (2BP01), and nothing above looks for it.
  await sql`CREATE FUNCTION entry_kind(journal_entries) RETURNS text LANGUAGE sql AS 'SELECT $1.operation_kind'`.execute(db)
  // The rebuild builds up to a checkpoint in the middle of the log; the checkpoint reaches the head
  // while the swap waits for a reader, so the swap's transaction applies the rest before it fails.
  const events = (await store.readAll({ maxCount: 100_000, filter: { types: journal.handles as string[] } })).events
  const middle = events[Math.floor(events.length / 2)]!.position
  await db.updateTable('checkpoints').set({ position: middle }).where('name', '=', name).execute()
  const reader = await pool.connect()
  t.teardown(() => reader.release())
  await reader.query('BEGIN')
  await reader.query('SELECT count(*) FROM journal_entries')
  const rebuilding = rebuildProjection({ db, store, projection: journal, swapLock: { waitMs: 5000, attempts: 2 } })
  for (;;) {
    const waiting = await sql<{ n: string }>`SELECT count(*)::text AS n FROM pg_locks WHERE relation = 'public.journal_entries'::regclass AND mode = 'AccessExclusiveLock' AND NOT granted`.execute(db)
    if (waiting.rows[0]!.n !== '0') break
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  await db.updateTable('checkpoints').set({ position: head }).where('name', '=', name).execute()
  await reader.query('COMMIT')
  const result = await rebuilding
  t.equal(result.swapped, 'copied', 'copied in after the replacement failed')
  t.equal(result.position, head, 'at the live checkpoint')
  t.ok(result.applied > events.length / 2, `${result.applied} events applied, the half after the middle among them`)
  for (const table of journal.tables) t.same(await contents(db, table), rows.get(table), `${table}: every row, the last events' included`)
  const kind = await sql<{ k: string }>`SELECT entry_kind(e) AS k FROM journal_entries e LIMIT 1`.execute(db)
  t.ok(kind.rows[0]?.k, 'the function still reads the entries')
})

t.test('finishing the twins builds every deferred index and analyzes every twin, two at a time; a failed build fails it', async (t) => {
  const { db, pool } = await journalled(t)
  const schema = 'rebuild_finish_test'
  const live = await Promise.all(journal.tables.map((table) => describeTable(db, table)))
  const deferred = new Set(journal.deferredIndexes ?? [])
  t.ok(deferred.size >= 2, `${deferred.size} deferred indexes`)
  const twins = async () => {
    await sql`DROP SCHEMA IF EXISTS ${sql.id(schema)} CASCADE`.execute(db)
    await sql`CREATE SCHEMA ${sql.id(schema)}`.execute(db)
    for (const table of live) {
      await createShadowTable(db, schema, table, deferred)
      await sql`INSERT INTO ${sql.id(schema, table.name)} SELECT * FROM ${sql.id('public', table.name)}`.execute(db)
    }
  }
  await twins()
  // A writer holding a twin (an index build on it waits); released at the end if an assertion throws first.
  const holdTwin = async (table: string) => {
    const client = await pool.connect()
    let held = true
    const release = async (how: 'COMMIT' | 'ROLLBACK') => {
      if (!held) return
      held = false
      await client.query(how).catch(() => undefined)
      client.release()
    }
    t.teardown(() => release('ROLLBACK'))
    await client.query('BEGIN')
    await client.query(`LOCK TABLE ${schema}.${table} IN ROW EXCLUSIVE MODE`)
    return () => release('COMMIT')
  }
  // What runs at once, seen from another connection while the steps run.
  let most = 0
  let watching = true
  const watcher = (async () => {
    while (watching) {
      const n = (await sql<{ n: number }>`SELECT count(*)::int AS n FROM pg_stat_activity
        WHERE datname = current_database() AND state = 'active' AND (query LIKE 'CREATE INDEX%' OR query LIKE 'ANALYZE%')`.execute(db)).rows[0]!.n
      most = Math.max(most, n)
    }
  })()
  await finishShadowTables(db, schema, live, deferred)
  watching = false
  await watcher
  const built = await sql<{ name: string }>`SELECT indexname AS name FROM pg_indexes WHERE schemaname = ${schema}`.execute(db)
  for (const index of deferred) t.ok(built.rows.some((r) => r.name === index), `${index} built on the twin`)
  const analyzed = await sql<{ name: string }>`SELECT relname AS name FROM pg_stat_user_tables WHERE schemaname = ${schema} AND last_analyze IS NOT NULL`.execute(db)
  t.same(analyzed.rows.map((r) => r.name).sort(), [...journal.tables].sort(), 'every twin analyzed')
  t.ok(most <= 2, `never more than two steps at once (${most} seen)`)

  // While one step waits (a writer holds the entries' twin, which an index build waits for), the other runner carries on with the rest.
  await twins()
  const releaseEntries = await holdTwin('journal_entries')
  const finishing = finishShadowTables(db, schema, live, deferred)
  finishing.catch(() => undefined)
  let postingsIndexes = 0
  for (let tries = 0; tries < 100 && postingsIndexes < 2; tries++) {
    await new Promise((r) => setTimeout(r, 100))
    postingsIndexes = (await sql<{ n: number }>`SELECT count(*)::int AS n FROM pg_indexes WHERE schemaname = ${schema} AND indexname IN ('journal_postings_account', 'journal_postings_wallet')`.execute(db)).rows[0]!.n
  }
  const entriesIndexed = (await sql<{ n: number }>`SELECT count(*)::int AS n FROM pg_indexes WHERE schemaname = ${schema} AND indexname = 'journal_entries_booked'`.execute(db)).rows[0]!.n
  await releaseEntries()
  await finishing
  t.equal(postingsIndexes, 2, "the postings' indexes were built while the entries' index waited")
  t.equal(entriesIndexed, 0, "and the entries' index was still waiting then")

  // A deferred index that cannot be built (its definition names a column the twin lacks) fails the finish.
  await twins()
  const broken = live.map((table) => ({ ...table, indexes: table.indexes.map((i) => (deferred.has(i.name) ? { ...i, definition: i.definition.replace(/\(([^)]*)\)$/, '(no_such_column)') } : i)) }))
  await t.rejects(finishShadowTables(db, schema, broken, deferred), /no_such_column/)

  // After a failure the other runner finishes the step it is on, takes no other, and the finish rejects only then.
  await twins()
  const indexCount = async (names: string[]) =>
    (await sql<{ n: number }>`SELECT count(*)::int AS n FROM pg_indexes WHERE schemaname = ${schema} AND indexname = ANY(${names})`.execute(db)).rows[0]!.n
  const entriesBroken = live.map((table) => ({ ...table, indexes: table.indexes.map((i) => (i.name === 'journal_entries_booked' ? { ...i, definition: i.definition.replace(/\(([^)]*)\)$/, '(no_such_column)') } : i)) }))
  const releasePostings = await holdTwin('journal_postings')
  let settled = false
  const failing = finishShadowTables(db, schema, entriesBroken, deferred).finally(() => (settled = true))
  failing.catch(() => undefined)
  let waiting = 0
  for (let tries = 0; tries < 100 && waiting === 0; tries++) {
    await new Promise((r) => setTimeout(r, 50))
    waiting = (await sql<{ n: number }>`SELECT count(*)::int AS n FROM pg_stat_activity
      WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE 'CREATE INDEX journal_postings_%'`.execute(db)).rows[0]!.n
  }
  t.equal(waiting, 1, "one postings index build waits for the writer")
  await new Promise((r) => setTimeout(r, 200))
  t.notOk(settled, 'the finish has not settled while that step still runs, although the entries index failed')
  await releasePostings()
  await t.rejects(failing, /no_such_column/)
  t.equal(await indexCount(['journal_postings_account', 'journal_postings_wallet']), 1, 'the step under way was finished, the other postings index never started')
  const analyzedAfterFailure = await sql<{ name: string }>`SELECT relname AS name FROM pg_stat_user_tables WHERE schemaname = ${schema} AND last_analyze IS NOT NULL`.execute(db)
  t.same(analyzedAfterFailure.rows, [], 'no twin analyzed after the failure')
  await sql`DROP SCHEMA ${sql.id(schema)} CASCADE`.execute(db)
})
