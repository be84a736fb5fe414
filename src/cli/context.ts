import type pg from 'pg'
import type { Config } from '../config.ts'
import { createEventStore } from '../adapters/event-store/index.ts'
import { createDb, createPool, databaseExists, migrationState, type Db } from '../adapters/postgres/database.ts'
import type { EventStore } from '../events/event-store.ts'

/** What every CLI command gets: the service's configuration, output streams, and a way to connect. */
export interface CliContext {
  config: Config
  /** `--json`: machine-readable output on stdout, one JSON document (or NDJSON where the command streams). */
  json: boolean
  stdout: NodeJS.WritableStream
  stderr: NodeJS.WritableStream
  /**
   * Connects to the database and the event store. A database that does not exist is an error
   * (`MissingDatabase`), never created: a mistyped DATABASE_URL must not verify, replay or
   * reconcile an empty ledger and report success. Nor is one whose schema is not this version's
   * (`SchemaMismatch`) migrated: a check or a replay changes nothing. `migrate` does both.
   */
  connect(): Promise<Connection>
}

export interface Connection {
  pool: pg.Pool
  db: Db
  store: EventStore
  close(): Promise<void>
}

export interface CliCommand {
  /** One line for the usage text. */
  summary: string
  usage: string
  /** Exit code: 0 ok, 1 the check failed, 2 bad usage. */
  run(args: string[], ctx: CliContext): Promise<number>
}

/** A usage mistake: printed with the command's usage, exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError'
}

/** The database DATABASE_URL names does not exist. */
class MissingDatabase extends Error {
  override name = 'MissingDatabase'
}

/** The database's schema is behind this version (migrations not run) or ahead of it (run by a newer one). */
class SchemaMismatch extends Error {
  override name = 'SchemaMismatch'
}

export async function connect(config: Config): Promise<Connection> {
  if (!(await databaseExists(config.DATABASE_URL))) {
    const url = new URL(config.DATABASE_URL)
    url.password = ''
    throw new MissingDatabase(`database ${decodeURIComponent(url.pathname.slice(1))} does not exist (DATABASE_URL ${url.toString()}): check the URL, or create it with \`npm run cli -- migrate\` or by starting the service`)
  }
  const pool = createPool(config.DATABASE_URL, 4)
  const db = createDb(pool)
  let store: EventStore
  try {
    const { pending, unknown } = await migrationState(db)
    if (unknown.length > 0) {
      throw new SchemaMismatch(`the database was migrated by a newer version of the ledger (${unknown.join(', ')}): use that version's CLI`)
    }
    if (pending.length > 0) {
      throw new SchemaMismatch(
        `the database is behind this version of the ledger: ${pending.length} migration(s) not run (${pending[0]}${pending.length > 1 ? ', ...' : ''}); run \`npm run cli -- migrate\` (or start the service, which migrates) first`,
      )
    }
    store = createEventStore(config, pool)
  } catch (err) {
    // The pool's idle connections would keep the process alive for its idle timeout.
    await db.destroy()
    throw err
  }
  return {
    pool,
    db,
    store,
    async close() {
      await store.close()
      await db.destroy()
    },
  }
}
