import { randomBytes } from 'node:crypto'
import pg from 'pg'
import { sql } from 'kysely'
import type { Test } from 'tap'
import { createDb, createPool, ensureDatabase, migrate, type Db } from '../../src/adapters/postgres/database.ts'

/** The server the tests use; DATABASE_URL names the run's database, test files make their own beside it. */
export const baseUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/circle_ledger_test'

export interface TestDatabase {
  url: string
  pool: pg.Pool
  db: Db
}

/** A fresh, migrated database for one test file, dropped at teardown so files run in parallel. */
export async function testDatabase(t: Test): Promise<TestDatabase> {
  const url = new URL(baseUrl)
  const name = `${url.pathname.slice(1) || 'circle_ledger'}_${process.pid}_${randomBytes(3).toString('hex')}`
  url.pathname = `/${name}`
  await ensureDatabase(url.toString())
  const pool = createPool(url.toString(), 20)
  const db = createDb(pool)
  await migrate(db)
  t.teardown(async () => {
    await db.destroy()
    await dropDatabase(name)
  })
  return { url: url.toString(), pool, db }
}

/** A URL for a database beside the run's that does not exist yet, dropped at teardown (start-up and CLI tests create it). */
export function freshDatabaseUrl(t: Test, prefix: string): string {
  const url = new URL(baseUrl)
  const name = `${prefix}_${randomBytes(4).toString('hex')}`
  url.pathname = `/${name}`
  t.teardown(() => dropDatabase(name))
  return url.toString()
}

export async function dropDatabase(name: string): Promise<void> {
  const admin = new URL(baseUrl)
  admin.pathname = '/postgres'
  const client = new pg.Client({ connectionString: admin.toString() })
  await client.connect()
  await client.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)} WITH (FORCE)`)
  await client.end()
}

/** The backend holding the session advisory lock `name` (as leases take it: `hashtextextended(name, 0)`) in this database, if any. */
export async function advisoryLockHolder(db: Db, name: string): Promise<number | undefined> {
  const res = await sql<{ pid: number }>`
    SELECT l.pid FROM pg_locks l, (SELECT hashtextextended(${name}, 0) AS h) k
    WHERE l.locktype = 'advisory' AND l.granted AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
      AND l.classid::bigint = (k.h >> 32) & 4294967295 AND l.objid::bigint = k.h & 4294967295`.execute(db)
  return res.rows[0]?.pid
}

/** Ends the session holding the advisory lock `name`, as a server restart or a DBA would: its holder loses the lock. */
export async function terminateLockHolder(db: Db, name: string): Promise<void> {
  const pid = await advisoryLockHolder(db, name)
  if (pid === undefined) throw new Error(`no session holds the advisory lock ${name}`)
  await sql`SELECT pg_terminate_backend(${pid})`.execute(db)
}
