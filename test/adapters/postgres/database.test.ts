import fs from 'node:fs/promises'
import path from 'node:path'
import { FileMigrationProvider, Migrator } from 'kysely/migration'
import t from 'tap'
import { createPool, migrationFolder } from '../../../src/adapters/postgres/database.ts'
import { testDatabase } from '../../helpers/database.ts'

t.test('a migrated database runs every new session with JIT off', async (t) => {
  const { url } = await testDatabase(t)
  const pool = createPool(url, 1)
  t.teardown(() => pool.end())
  const res = await pool.query<{ jit: string }>('SHOW jit')
  t.equal(res.rows[0]?.jit, 'off', 'set on the database by the jit-off migration, not by the driver')
})

t.test('a migrated database gathers no planner statistics for JSON documents, and migrating down gathers them again', async (t) => {
  const { db, pool } = await testDatabase(t)
  const targets = async () =>
    (
      await pool.query<{ column: string; target: number }>(
        `SELECT c.relname || '.' || a.attname AS column, coalesce(a.attstattarget, -1)::int AS target
         FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = 'public' AND c.relkind = 'r' AND a.attnum > 0 AND NOT a.attisdropped
           AND a.atttypid IN ('json'::regtype, 'jsonb'::regtype)
         ORDER BY 1`,
      )
    ).rows
  const migrated = await targets()
  t.ok(migrated.length >= 18, `every JSON column of the service's tables (${migrated.length})`)
  t.same(migrated.filter((c) => c.target !== 0), [], 'each with a statistics target of 0')

  await pool.query(`INSERT INTO events (position, stream, revision, event_id, type, data, metadata)
    SELECT i, 'wallet-' || (i % 7), i / 7, gen_random_uuid(), 'Probe', jsonb_build_object('n', i), jsonb_build_object('actor', 'a')
    FROM generate_series(1, 500) AS i`)
  await pool.query('ANALYZE events')
  const sampled = (await pool.query<{ attname: string }>(`SELECT attname FROM pg_stats WHERE schemaname = 'public' AND tablename = 'events' ORDER BY attname`)).rows.map((r) => r.attname)
  t.same(sampled, ['event_id', 'position', 'recorded_at', 'revision', 'stream', 'type'], "ANALYZE samples the log's other columns only")

  const migrator = new Migrator({ db, provider: new FileMigrationProvider({ fs, path, migrationFolder }) })
  const down = await migrator.migrateTo('20261127T0130-audit-log-statistics')
  t.equal(down.error, undefined)
  const after = await targets()
  t.same(after.filter((c) => !c.column.startsWith('audit_log.') && c.target !== -1), [], 'down: the default targets again')
  t.same(after.filter((c) => c.column.startsWith('audit_log.')).map((c) => c.target), [0, 0], "down leaves the audit log's own migration as it was")
})
