import { sql, type Transaction } from 'kysely'
import type pg from 'pg'
import type { Db } from '../adapters/postgres/database.ts'
import { REBUILD_SCHEMA_PREFIX } from '../adapters/postgres/maintenance.ts'
import type { Database } from '../database.ts'
import { DEFAULT_SCAN_WINDOW, type EventStore, type Position, type RecordedEvent } from '../events/event-store.ts'
import { forgetOtherVersions, isAfter, readCheckpoint } from './checkpoints.ts'
import { tryLease } from './lease.ts'
import { checkpointName, eventsFor, type Projection } from './projection.ts'
import { copyIntoLiveTable, createShadowTable, describeTable, finishShadowTables, replaceLiveTable } from './shadow-tables.ts'

export interface RebuildProgress {
  /** Events handed to the projection so far. */
  applied: number
  /** Positions scanned so far and in all, when the store can count them (for a progress bar). */
  scanned: number | undefined
  total: number | undefined
}

export interface RebuildOptions {
  db: Db
  store: EventStore
  projection: Projection
  /**
   * Whose connection settings the rebuild's lock uses: one rebuild of a projection at a time across
   * processes, held on a connection of its own (not one of this pool's) for the whole rebuild.
   * Omitted: no lock, for single-process tests only.
   */
  pool?: pg.Pool
  /**
   * Where to stop. Omitted: follow the projection's live checkpoint, and meet it exactly inside the
   * swap (the service keeps running and answering from the old tables meanwhile).
   */
  target?: Position
  /** false: leave the rebuilt tables in their schema for comparison instead of swapping them in. */
  swap?: boolean
  batchSize?: number
  /**
   * How the swap waits for readers of the live tables before putting the rebuilt ones in their
   * place: `attempts` tries of at most `waitMs` each (readers queue behind a try meanwhile), then it
   * copies the rows in instead, which waits for writers only. Default 5 tries of 1 s.
   */
  swapLock?: { waitMs: number; attempts: number }
  signal?: AbortSignal
  onProgress?: (progress: RebuildProgress) => void
}

export interface RebuildResult {
  applied: number
  position: Position | undefined
  /** The schema holding the rebuilt tables (dropped after a swap). */
  schema: string
  /** How the rebuilt tables went live: in place of the old ones, or their rows copied into them (see `swapLock`, shadow-tables.ts); undefined without a swap. */
  swapped?: 'replaced' | 'copied'
}

/** The projection has never run: there is no live state to rebuild beside. */
export class NothingToRebuild extends Error {
  override name = 'NothingToRebuild'
}

/** Another rebuild of the same projection runs (another process, or the service's own after a version bump). */
export class RebuildInProgress extends Error {
  override name = 'RebuildInProgress'
}

/**
 * Events per page read and per transaction applied, unless the caller says otherwise. A row that
 * a page updates in place (a wallet's document, a journal account's balance) is written once a
 * page, so pages this large write it a quarter as often as pages of 5,000 did: the wallets' rebuild
 * takes about half the time (bench/HISTORY.md, the thirteenth VM).
 */
export const DEFAULT_REBUILD_BATCH = 20_000

/**
 * Positions a rebuild's filtered read may scan per page: five pages' worth, so a projection handling
 * a fifth of the log reads full pages, and never fewer than a store's default.
 */
const scanWindowFor = (batchSize: number) => Math.max(batchSize * 5, DEFAULT_SCAN_WINDOW)

export const shadowSchema = (projection: Projection) => `${REBUILD_SCHEMA_PREFIX}${projection.name.replace(/[^A-Za-z0-9]/g, '_')}`

/**
 * Rebuilds one projection from position 0 into fresh tables in a schema of their own (same columns,
 * constraints and indexes under the same names, so its code runs unchanged with that schema first
 * on the search path), then swaps them in atomically: in one transaction, under a lock on the live
 * tables, the last events up to the live checkpoint are applied and the rebuilt tables take the
 * live ones' place (see shadow-tables.ts).
 */
export async function rebuildProjection(options: RebuildOptions): Promise<RebuildResult> {
  // Two rebuilds of one projection would share its shadow schema: the second drops the first's
  // tables, the first writes on into the second's, and whichever swaps first puts the mix live. So
  // one at a time, across processes: a session advisory lock on a connection of its own for the
  // whole rebuild (gone with that connection if the process dies). Should that connection end (the
  // server restarted, the session killed), the lock is gone: the rebuild stops before its swap.
  if (!options.pool) return rebuildAlone(options)
  const lease = await tryLease(options.pool, `rebuild:${shadowSchema(options.projection)}`)
  if (!lease) throw new RebuildInProgress(`projection ${options.projection.name} is being rebuilt by another process or command; run this again once it has finished`)
  try {
    const signal = options.signal ? AbortSignal.any([options.signal, lease.lost]) : lease.lost
    return await rebuildAlone({ ...options, signal })
  } finally {
    await lease.release()
  }
}

async function rebuildAlone(options: RebuildOptions): Promise<RebuildResult> {
  const { db, store, projection } = options
  const schema = shadowSchema(projection)
  const name = checkpointName(projection)
  const goal = async (): Promise<Position | undefined> => {
    if (options.target !== undefined) return options.target
    const live = await readCheckpoint(db, name)
    if (live === undefined) throw new NothingToRebuild(`projection ${name} has not run yet: the service builds it when it starts`)
    return live
  }
  const live = await Promise.all(projection.tables.map((table) => describeTable(db, table)))
  const deferred = new Set(projection.deferredIndexes ?? [])
  for (const index of deferred) {
    if (!live.some((t) => t.indexes.some((i) => i.name === index))) throw new Error(`projection ${projection.name} defers the index ${index}, which none of its tables has (constraints cannot be deferred)`)
  }
  await sql`DROP SCHEMA IF EXISTS ${sql.id(schema)} CASCADE`.execute(db)
  await sql`CREATE SCHEMA ${sql.id(schema)}`.execute(db)
  // Logged, as the live tables are: the swap makes them live as they are, without copying a row.
  for (const table of live) await createShadowTable(db, schema, table, deferred)
  const filter = { types: projection.handles as readonly string[] }
  const batchSize = options.batchSize ?? DEFAULT_REBUILD_BATCH
  if (!Number.isSafeInteger(batchSize) || batchSize < 1) throw new RangeError(`rebuild: batchSize must be a positive integer, got ${batchSize}`)
  let after: Position | undefined
  let applied = 0
  const report = (until: Position | undefined) =>
    options.onProgress?.({ applied, scanned: store.distance(undefined, after) ?? undefined, total: store.distance(undefined, until) ?? undefined })

  /**
   * Applies the events after `after` up to `until`, a page at a time; the next page is read while
   * the current one is applied, so the log's read and the projection's writes overlap.
   */
  const catchUp = async (until: Position | undefined, run: (events: RecordedEvent[]) => Promise<void>, stopEarly: () => boolean) => {
    if (until === undefined) return
    const read = (from: Position | undefined) => {
      const page = store.readAll({ after: from, maxCount: batchSize, filter, scanWindow: scanWindowFor(batchSize) })
      page.catch(() => undefined) // awaited below, unless the loop stops first
      return page
    }
    let next = after === undefined || isAfter(store, until, after) ? read(after) : undefined
    while (next !== undefined && !stopEarly()) {
      const batch = await next
      const events = batch.events.filter((e) => !isAfter(store, e.position, until))
      const following = batch.checkpoint === undefined || isAfter(store, batch.checkpoint, until) ? until : batch.checkpoint
      next = following !== after && isAfter(store, until, following) ? read(following) : undefined
      if (events.length > 0) await run(events)
      applied += events.length
      if (following === after) break
      after = following
      report(until)
    }
  }

  /** Follows the live checkpoint (or goes to the fixed target) until one more pass would gain nothing: the rest is applied inside the swap. */
  const follow = async () => {
    for (;;) {
      const until = await goal()
      const before = after
      await catchUp(
        until,
        (events) =>
          db.transaction().execute(async (trx) => {
            // Nothing in a shadow batch needs to wait for a WAL flush at commit: the swap's commit flushes it all.
            await sql`SELECT set_config('search_path', ${`${schema},public`}, true), set_config('synchronous_commit', 'off', true)`.execute(trx)
            await projection.handle(trx, eventsFor(projection, events))
          }),
        () => options.signal?.aborted === true,
      )
      if (options.signal?.aborted) throw options.signal.reason ?? new Error('rebuild aborted')
      if (options.target !== undefined || after === before || after === until) return
    }
  }
  await follow()
  await finishShadowTables(db, schema, live, deferred)
  // What was appended while the indexes were built and the twins analyzed is applied now rather than under the swap's lock.
  await follow()
  if (options.swap === false) return { applied, position: after, schema }

  // Replacing a table takes a lock that queues every reader behind it: each try waits a bounded time
  // for the readers there are, so that a long one cannot hold the API up for long.
  let replaceable = live.every((t) => t.kept === undefined)
  const lock = options.swapLock ?? { waitMs: 1000, attempts: 5 }
  for (let attempt = 1; replaceable && attempt <= lock.attempts; attempt++) {
    const state = { after, applied }
    try {
      await swap('replaced')
      return { applied, position: after, schema, swapped: 'replaced' }
    } catch (err) {
      // The transaction rolled back: so do the events it applied.
      ;({ after, applied } = state)
      if (options.signal?.aborted) throw err
      // Something the checks above do not know of depends on a live table (a function taking its row type, say): copy instead.
      if (errorCode(err) === DEPENDENT_OBJECTS) replaceable = false
      else if (!isLockWait(err)) throw err
      else await new Promise((resolve) => setTimeout(resolve, lock.waitMs / 2))
    }
  }
  await swap('copied')
  return { applied, position: after, schema, swapped: 'copied' }

  /** The swap's transaction: lock, last events, tables (replaced, or rows copied), checkpoint, shadow schema dropped. */
  async function swap(how: 'replaced' | 'copied') {
    if (options.signal?.aborted) throw options.signal.reason ?? new Error('rebuild aborted')
    await db.transaction().execute(async (trx) => {
      if (how === 'replaced') {
        // Every table the swap drops or moves, twins included (a VACUUM of one would hold the move up), locked by one statement within lock.waitMs in all.
        const tables = sql.join(projection.tables.flatMap((t) => [sql.id('public', t), sql.id(schema, t)]))
        const was = (await sql<{ was: string }>`SELECT current_setting('statement_timeout') AS was, set_config('statement_timeout', ${`${lock.waitMs}ms`}, true)`.execute(trx)).rows[0]!.was
        await sql`LOCK TABLE ${tables} IN ACCESS EXCLUSIVE MODE`.execute(trx)
        await sql`SELECT set_config('statement_timeout', ${was}, true)`.execute(trx)
      } else {
        // Copying only stops the live projection's writes: reads of the old rows go on until the commit.
        await sql`LOCK TABLE ${sql.join(projection.tables.map((t) => sql.id('public', t)))} IN EXCLUSIVE MODE`.execute(trx)
      }
      await finish(trx, how)
    })
  }

  async function finish(trx: Transaction<Database>, how: 'replaced' | 'copied') {
    const checkpoint = options.target ?? (await trx.selectFrom('checkpoints').select('position').where('name', '=', name).forUpdate().executeTakeFirst())?.position ?? undefined
    await catchUp(
      checkpoint,
      async (events) => {
        await sql`SELECT set_config('search_path', ${`${schema},public`}, true)`.execute(trx)
        await projection.handle(trx, eventsFor(projection, events))
        await sql`SELECT set_config('search_path', 'public', true)`.execute(trx)
      },
      () => false,
    )
    for (const table of projection.tables) await (how === 'replaced' ? replaceLiveTable(trx, schema, table) : copyIntoLiveTable(trx, schema, table))
    if (after !== undefined) {
      const position = after
      await trx
        .insertInto('checkpoints')
        .values({ name, position, updated_at: new Date() })
        .onConflict((oc) => oc.column('name').doUpdateSet({ position, updated_at: new Date() }))
        .execute()
    }
    await forgetOtherVersions(trx, [projection])
    await sql`DROP SCHEMA ${sql.id(schema)} CASCADE`.execute(trx)
  }
}

const errorCode = (err: unknown) => (err as { code?: string } | undefined)?.code ?? ''

/** A lock not granted in time (the statement's timeout cancels it, or lock_timeout), or a deadlock PostgreSQL broke by failing us. */
const isLockWait = (err: unknown) => ['57014', '55P03', '40P01'].includes(errorCode(err))

/** DROP TABLE refused: other objects depend on the table. */
const DEPENDENT_OBJECTS = '2BP01'
