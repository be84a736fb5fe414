import { sql } from 'kysely'
import type { Db } from '../adapters/postgres/database.ts'
import type { EventStore, Position, RecordedEvent } from '../events/event-store.ts'
import { isAfter, readCheckpoint } from './checkpoints.ts'
import { checkpointName, eventsFor, type Projection } from './projection.ts'

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
   * Where to stop. Omitted: follow the projection's live checkpoint, and meet it exactly inside the
   * swap (the service keeps running and answering from the old tables meanwhile).
   */
  target?: Position
  /** false: leave the rebuilt tables in their schema for comparison instead of swapping them in. */
  swap?: boolean
  batchSize?: number
  signal?: AbortSignal
  onProgress?: (progress: RebuildProgress) => void
}

export interface RebuildResult {
  applied: number
  position: Position | undefined
  /** The schema holding the rebuilt tables (dropped after a swap). */
  schema: string
}

/** The projection has never run: there is no live state to rebuild beside. */
export class NothingToRebuild extends Error {
  override name = 'NothingToRebuild'
}

/** Events per page read and per transaction applied, unless the caller says otherwise. */
export const DEFAULT_REBUILD_BATCH = 5000

export const shadowSchema = (projection: Projection) => `rebuild_${projection.name.replace(/[^A-Za-z0-9]/g, '_')}`

/**
 * Rebuilds one projection from position 0 into fresh tables in a schema of its own (same columns and
 * indexes, so its code runs unchanged with that schema first on the search path), then swaps them in
 * atomically: under an EXCLUSIVE lock, which lets reads of the old rows go on until the commit, the
 * last events up to the live checkpoint are applied and the rows replace the live ones.
 */
export async function rebuildProjection(options: RebuildOptions): Promise<RebuildResult> {
  const { db, store, projection } = options
  const schema = shadowSchema(projection)
  const name = checkpointName(projection)
  const goal = async (): Promise<Position | undefined> => {
    if (options.target !== undefined) return options.target
    const live = await readCheckpoint(db, name)
    if (live === undefined) throw new NothingToRebuild(`projection ${name} has not run yet: the service builds it when it starts`)
    return live
  }
  await sql`DROP SCHEMA IF EXISTS ${sql.id(schema)} CASCADE`.execute(db)
  await sql`CREATE SCHEMA ${sql.id(schema)}`.execute(db)
  for (const table of projection.tables) {
    // Unlogged: the shadow rows are written once without WAL; the swap copies them into the logged
    // live tables in one transaction, and a crash before it only loses a rebuild that restarts anyway.
    await sql`CREATE UNLOGGED TABLE ${sql.id(schema, table)} (LIKE ${sql.id('public', table)} INCLUDING ALL)`.execute(db)
  }
  const filter = { types: projection.handles as readonly string[] }
  const batchSize = options.batchSize ?? DEFAULT_REBUILD_BATCH
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
      const page = store.readAll({ after: from, maxCount: batchSize, filter })
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

  for (;;) {
    const until = await goal()
    const before = after
    await catchUp(
      until,
      (events) =>
        db.transaction().execute(async (trx) => {
          // Nothing in a shadow batch needs to wait for a WAL flush at commit: the swap is the durable step.
          await sql`SELECT set_config('search_path', ${`${schema},public`}, true), set_config('synchronous_commit', 'off', true)`.execute(trx)
          await projection.handle(trx, eventsFor(projection, events))
        }),
      () => options.signal?.aborted === true,
    )
    if (options.signal?.aborted) throw options.signal.reason ?? new Error('rebuild aborted')
    // Close enough to the live checkpoint (or at the fixed target): finish inside the swap.
    if (options.target !== undefined || after === before || after === until) break
  }
  if (options.swap === false) return { applied, position: after, schema }

  await db.transaction().execute(async (trx) => {
    await sql`LOCK TABLE ${sql.join(projection.tables.map((t) => sql.id('public', t)))} IN EXCLUSIVE MODE`.execute(trx)
    const live = options.target ?? (await trx.selectFrom('checkpoints').select('position').where('name', '=', name).forUpdate().executeTakeFirst())?.position ?? undefined
    await catchUp(
      live,
      async (events) => {
        await sql`SELECT set_config('search_path', ${`${schema},public`}, true)`.execute(trx)
        await projection.handle(trx, eventsFor(projection, events))
        await sql`SELECT set_config('search_path', 'public', true)`.execute(trx)
      },
      () => false,
    )
    for (const table of projection.tables) {
      await sql`DELETE FROM ${sql.id('public', table)}`.execute(trx)
      await sql`INSERT INTO ${sql.id('public', table)} SELECT * FROM ${sql.id(schema, table)}`.execute(trx)
    }
    if (after !== undefined) {
      const position = after
      await trx
        .insertInto('checkpoints')
        .values({ name, position, updated_at: new Date() })
        .onConflict((oc) => oc.column('name').doUpdateSet({ position, updated_at: new Date() }))
        .execute()
    }
    // Checkpoints of the projection's earlier versions describe tables that no longer exist.
    await trx.deleteFrom('checkpoints').where('name', 'like', `projection:${projection.name}@v%`).where('name', '!=', name).execute()
    await sql`DROP SCHEMA ${sql.id(schema)} CASCADE`.execute(trx)
  })
  return { applied, position: after, schema }
}
