import type pg from 'pg'
import pino from 'pino'
import t from 'tap'
import { autovacuumOn, maintainTables, TableMaintenance } from '../../../src/adapters/postgres/maintenance.ts'
import { until } from '../../helpers/circle.ts'
import { testDatabase } from '../../helpers/database.ts'

const stat = async (pool: pg.Pool, table: string) =>
  (
    await pool.query<{ analyzed: Date | null; mods: string; dead: string }>(
      'SELECT greatest(last_analyze, last_autoanalyze) AS analyzed, n_mod_since_analyze AS mods, n_dead_tup AS dead FROM pg_stat_user_tables WHERE relname = $1',
      [table],
    )
  ).rows[0]

t.test('a pass analyzes the tables that changed past autovacuum thresholds, vacuums those with dead rows, and leaves the rest', async (t) => {
  const { pool } = await testDatabase(t)
  await pool.query('CREATE TABLE busy (id int PRIMARY KEY, v int); CREATE TABLE quiet (id int PRIMARY KEY)')
  await pool.query('INSERT INTO busy SELECT g, 0 FROM generate_series(1, 5000) g; INSERT INTO quiet VALUES (1)')
  // A rebuild's twin, as busy as busy: the rebuild analyzes it itself.
  await pool.query('CREATE SCHEMA rebuild_probe; CREATE TABLE rebuild_probe.twin (id int PRIMARY KEY); INSERT INTO rebuild_probe.twin SELECT generate_series(1, 5000)')
  // The statistics collector reports changes with a small delay.
  await until(async () => Number((await stat(pool, 'busy'))?.mods ?? 0) > 0 && Number((await stat(pool, 'twin'))?.mods ?? 0) > 0, 5000, 'stats for busy and twin')
  const first = await maintainTables(pool)
  t.ok(first.analyzed.includes('busy'), `5,000 inserted rows: analyzed (${first.analyzed.join(', ')})`)
  t.notOk(first.analyzed.includes('twin'), 'a table of a rebuild schema is left to the rebuild')
  t.ok(first.vacuumed.includes('busy'), 'and vacuumed: insert-only tables (the event log) are vacuumed too')
  t.notOk(first.analyzed.includes('quiet'), 'one row changed (under 50 + 10%): left alone')
  t.ok((await stat(pool, 'busy'))?.analyzed, 'PostgreSQL records the analyze')

  await pool.query('UPDATE busy SET v = v + 1 WHERE id <= 3000')
  await until(async () => Number((await stat(pool, 'busy'))?.dead ?? 0) > 1000, 5000, 'dead rows counted')
  const second = await maintainTables(pool)
  t.ok(second.vacuumed.includes('busy'), '3,000 dead rows of 5,000: vacuumed')
  await until(async () => Number((await stat(pool, 'busy'))?.dead ?? 1) === 0, 5000, 'dead rows gone')
  t.same(await maintainTables(pool), { analyzed: [], vacuumed: [] }, 'nothing left to do right after')
})

t.test('the loop runs only when the server has autovacuum off, and stops', async (t) => {
  const { pool } = await testDatabase(t)
  const maintenance = new TableMaintenance({ pool, logger: pino({ level: 'silent' }), intervalMs: 20, leaseRetryMs: 20 })
  const started = await maintenance.start()
  t.equal(started, !(await autovacuumOn(pool)), 'started exactly when autovacuum is off')
  if (started) {
    await pool.query('CREATE TABLE grows (id int PRIMARY KEY)')
    await pool.query('INSERT INTO grows SELECT generate_series(1, 2000)')
    await until(async () => Boolean((await stat(pool, 'grows'))?.analyzed), 10_000, 'the loop analyzed the new table')
    t.pass('the running loop analyzed a table that grew')
  }
  await maintenance.stop()
})

t.test('a pass is paced as autovacuum paces itself, and hands its connection back as it found it', async (t) => {
  const { pool } = await testDatabase(t)
  await pool.query('CREATE TABLE busy (id int PRIMARY KEY); INSERT INTO busy SELECT generate_series(1, 5000)')
  await until(async () => Number((await stat(pool, 'busy'))?.mods ?? 0) > 0, 5000, 'stats for busy')
  const seen: string[] = []
  const connect = pool.connect.bind(pool)
  // Every statement the pass sends on the connection it takes, with the pacing in force when it runs.
  // pool.query takes its connection through connect(callback): only the promise form is watched.
  ;(pool as { connect: (...args: unknown[]) => unknown }).connect = (...args: unknown[]) => (args.length > 0 ? (connect as (...a: unknown[]) => unknown)(...args) : watched())
  const watched = async () => {
    const client = await connect()
    const query = client.query.bind(client) as (text: string) => Promise<pg.QueryResult>
    ;(client as { query: unknown }).query = async (text: string) => {
      const delay = (await query('SHOW vacuum_cost_delay')).rows[0]?.vacuum_cost_delay
      seen.push(`${String(text).split(' ')[0]} @ ${delay}`)
      return query(text)
    }
    return client
  }
  const run = await maintainTables(pool)
  t.ok(run.analyzed.includes('busy'))
  t.ok(seen.some((s) => /^(VACUUM|ANALYZE) @ 2ms$/.test(s)), `VACUUM/ANALYZE ran with vacuum_cost_delay 2ms (${seen.join(', ')})`)
  ;(pool as { connect: unknown }).connect = connect
  const after = await pool.connect()
  t.teardown(() => after.release())
  t.equal((await after.query('SHOW vacuum_cost_delay')).rows[0]?.vacuum_cost_delay, '0', 'the pool connection is back to the default')
})
