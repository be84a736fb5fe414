import pg from 'pg'
import type { Logger } from 'pino'
import { leasedInterval, type LeasedLoop } from '../../subscriptions/lease.ts'

/** PostgreSQL's own autovacuum defaults: a table is due once this many rows changed. */
const ANALYZE_BASE = 50
const ANALYZE_SCALE = 0.1
const VACUUM_BASE = 50
const VACUUM_SCALE = 0.2
/** ... and once this many rows were inserted since the last vacuum (insert-only tables: the log). */
const INSERT_VACUUM_BASE = 1000
const INSERT_VACUUM_SCALE = 0.2
/** autovacuum_vacuum_cost_delay's default since PostgreSQL 12. */
const COST_DELAY_MS = 2

export interface MaintenanceRun {
  analyzed: string[]
  vacuumed: string[]
}

/** Whether the server's autovacuum daemon runs (it is off on some CI machines). */
export async function autovacuumOn(pool: pg.Pool): Promise<boolean> {
  const res = await pool.query<{ autovacuum: string }>('SHOW autovacuum')
  return res.rows[0]?.autovacuum === 'on'
}

/** The schemas a projection rebuild builds its tables in begin with this (subscriptions/rebuild.ts). */
export const REBUILD_SCHEMA_PREFIX = 'rebuild_'

/**
 * One pass of what autovacuum would do for this database's tables, with its default thresholds:
 * ANALYZE a table once 50 + 10% of its rows changed since the last analyze, VACUUM it once 50 + 20%
 * of its rows are dead or 1,000 + 20% were inserted since its last vacuum. Without statistics the
 * planner guesses: a never-analyzed table of 100,000 rows was hash-joined by a full scan to update
 * 6 rows of it, and an unanalyzed one-row table counted as 2,200 rows and pushed a 0.1 ms read over
 * the JIT threshold.
 */
export async function maintainTables(pool: pg.Pool): Promise<MaintenanceRun> {
  // Only tables this role owns (it may not analyze others); the insert count makes the append-only
  // event log vacuumed too, which keeps its visibility map set and its rows frozen. A rebuild's
  // tables (schema REBUILD_SCHEMA_PREFIX + projection) are left to the rebuild, which analyzes them itself: a
  // VACUUM there would only compete with it, and hold up its swap.
  const res = await pool.query<{ schema: string; name: string; analyze: boolean; vacuum: boolean }>(
    `SELECT s.schemaname AS schema, s.relname AS name,
            s.n_mod_since_analyze > $1::float8 + $2::float8 * greatest(s.n_live_tup, 0) AS analyze,
            s.n_dead_tup > $3::float8 + $4::float8 * greatest(s.n_live_tup, 0)
              OR s.n_ins_since_vacuum > $5::float8 + $6::float8 * greatest(s.n_live_tup, 0) AS vacuum
     FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid
     WHERE pg_has_role(current_user, c.relowner, 'USAGE') AND NOT starts_with(s.schemaname, $7)
     ORDER BY s.relname`,
    [ANALYZE_BASE, ANALYZE_SCALE, VACUUM_BASE, VACUUM_SCALE, INSERT_VACUUM_BASE, INSERT_VACUUM_SCALE, REBUILD_SCHEMA_PREFIX],
  )
  const run: MaintenanceRun = { analyzed: [], vacuumed: [] }
  const due = res.rows.filter((t) => t.analyze || t.vacuum)
  if (due.length === 0) return run
  const client = await pool.connect()
  try {
    // Paced as autovacuum paces itself (autovacuum_vacuum_cost_delay's default): a manual VACUUM
    // runs unthrottled, and a pass over the growing event log and audit log competes with the
    // service for the same cores.
    await client.query(`SET vacuum_cost_delay = '${COST_DELAY_MS}ms'`)
    for (const table of due) {
      const name = `${pg.escapeIdentifier(table.schema)}.${pg.escapeIdentifier(table.name)}`
      try {
        // VACUUM cannot run in a transaction block: each is its own autocommit statement.
        await client.query(table.vacuum ? `VACUUM (ANALYZE) ${name}` : `ANALYZE ${name}`)
      } catch {
        // Dropped since the statistics were read, or locked away: the next pass looks again.
        continue
      }
      if (table.vacuum) run.vacuumed.push(table.name)
      run.analyzed.push(table.name)
    }
  } finally {
    await client.query('RESET vacuum_cost_delay').catch(() => undefined)
    client.release()
  }
  return run
}

export interface TableMaintenanceOptions {
  pool: pg.Pool
  logger: Logger
  /** Pause between passes (ms). */
  intervalMs: number
  leaseRetryMs?: number
}

/**
 * Stands in for autovacuum when the server runs without it: one instance (by advisory lock) runs
 * `maintainTables` every `intervalMs`. With autovacuum on it does nothing but say so at start.
 */
export class TableMaintenance {
  private readonly options: TableMaintenanceOptions
  private readonly loop: LeasedLoop

  constructor(options: TableMaintenanceOptions) {
    this.options = options
    this.loop = leasedInterval({
      pool: options.pool,
      name: 'table-maintenance',
      retryMs: options.leaseRetryMs,
      intervalMs: options.intervalMs,
      pass: async () => {
        const run = await maintainTables(options.pool)
        if (run.analyzed.length > 0) options.logger.debug(run, 'tables maintained')
      },
      onError: (err) => options.logger.warn({ err }, 'table maintenance failed; will try again'),
    })
  }

  /** Starts the loop when the server's autovacuum is off; resolves with whether it started. */
  async start(): Promise<boolean> {
    if (await autovacuumOn(this.options.pool)) return false
    this.options.logger.warn(
      { intervalMs: this.options.intervalMs },
      'PostgreSQL runs with autovacuum off: the service analyzes and vacuums its own tables; turn autovacuum on in production',
    )
    this.loop.start()
    return true
  }

  stop(): Promise<void> {
    return this.loop.stop()
  }
}
