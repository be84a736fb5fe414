import path from 'node:path'
import { promises as fs } from 'node:fs'
import { Kysely, PostgresDialect, sql } from 'kysely'
import { FileMigrationProvider, Migrator } from 'kysely/migration'
import pg from 'pg'
import type { Database } from '../../database.ts'
import { forgetClient, registerClient } from './copy.ts'

// int8 stays a string (positions, counts); numeric stays a string too. Money is never a JS number.
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => v)

export type Db = Kysely<Database>

/** Whether a raw `UPDATE`/`DELETE` (sql`...`.execute) wrote a row: a fenced write (claim token, status) tells whether it still held. */
export const wroteAny = (res: { numAffectedRows?: bigint }): boolean => (res.numAffectedRows ?? 0n) > 0n

export function createPool(databaseUrl: string, max = 10): pg.Pool {
  const pool = new pg.Pool({ connectionString: databaseUrl, max, connectionTimeoutMillis: 5000 })
  // An idle client losing its server must not crash the process; the next query reports it.
  pool.on('error', () => undefined)
  // Known by backend process id, so that a transaction can COPY on its own connection (copy.ts).
  pool.on('connect', registerClient)
  pool.on('remove', forgetClient)
  return pool
}

export function createDb(pool: pg.Pool): Db {
  return new Kysely<Database>({ dialect: new PostgresDialect({ pool }) })
}

/** Whether the database named in the URL exists; throws when the server cannot be reached. */
export async function databaseExists(databaseUrl: string): Promise<boolean> {
  const probe = new pg.Client({ connectionString: databaseUrl, connectionTimeoutMillis: 5000 })
  try {
    await probe.connect()
    return true
  } catch (err) {
    // invalid_catalog_name: the server is there, the database is not.
    if ((err as { code?: string }).code !== '3D000') throw err
    return false
  } finally {
    await probe.end().catch(() => undefined)
  }
}

/** Creates the database named in the URL when it does not exist yet. */
export async function ensureDatabase(databaseUrl: string): Promise<void> {
  const url = new URL(databaseUrl)
  const name = decodeURIComponent(url.pathname.replace(/^\//, ''))
  if (!name) throw new Error('DATABASE_URL names no database')
  if (await databaseExists(databaseUrl)) return
  url.pathname = '/postgres'
  const admin = new pg.Client({ connectionString: url.toString(), connectionTimeoutMillis: 5000 })
  await admin.connect()
  try {
    await admin.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}`)
  } catch (err) {
    if ((err as { code?: string }).code !== '42P04') throw err // created meanwhile by another process
  } finally {
    await admin.end()
  }
}

export const migrationFolder = path.join(import.meta.dirname, 'migrations')

const migratorOf = (db: Db) => new Migrator({ db, provider: new FileMigrationProvider({ fs, path, migrationFolder }) })

/**
 * Where the database's schema stands against this code's migrations: those not yet run here
 * (`pending`), and those it ran that this code does not have (`unknown`: a newer version migrated
 * it). Changes nothing.
 */
export async function migrationState(db: Db): Promise<{ pending: string[]; unknown: string[] }> {
  const known = await migratorOf(db).getMigrations()
  const names = new Set(known.map((m) => m.name))
  const table = await sql<{ present: boolean }>`SELECT to_regclass('kysely_migration') IS NOT NULL AS present`.execute(db)
  const ran = table.rows[0]?.present ? (await sql<{ name: string }>`SELECT name FROM kysely_migration ORDER BY name`.execute(db)).rows.map((r) => r.name) : []
  return { pending: known.filter((m) => m.executedAt === undefined).map((m) => m.name), unknown: ran.filter((name) => !names.has(name)) }
}

/** Runs every pending migration (Kysely's Migrator); throws on the first failure. */
export async function migrate(db: Db): Promise<string[]> {
  const migrator = migratorOf(db)
  const { error, results } = await migrator.migrateToLatest()
  if (error) throw error instanceof Error ? error : new Error(String(error))
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName)
}
