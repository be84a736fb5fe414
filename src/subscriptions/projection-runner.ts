import { sql, type Transaction } from 'kysely'
import type pg from 'pg'
import type { Logger } from 'pino'
import type { Db } from '../adapters/postgres/database.ts'
import type { Database } from '../database.ts'
import type { EventStore, Position, RecordedEvent } from '../events/event-store.ts'
import { checkpointName, eventsFor, type Projection } from './projection.ts'
import { forgetOtherVersions } from './checkpoints.ts'
import { rebuildProjection } from './rebuild.ts'
import { Subscriber, type SubscriberStatus } from './subscriber.ts'

/** Hands each projection the events of a batch it handles, in position order, inside the batch's transaction. */
export async function applyBatch(trx: Transaction<Database>, projections: readonly Projection[], events: RecordedEvent[]): Promise<void> {
  for (const projection of projections) {
    const mine = eventsFor(projection, events)
    if (mine.length > 0) await projection.handle(trx, mine)
  }
}

export interface ProjectionRunnerOptions {
  projections: readonly Projection[]
  store: EventStore
  db: Db
  /** For the lease that keeps one active runner across processes, and a rebuild's lock; omit in single-process tests. */
  leasePool?: pg.Pool
  logger?: Logger
  /** Subscriber (and lease) name of the group. */
  name?: string
  batchSize?: number
}

/**
 * Runs a group of projections as one transactional subscriber: one read of the log and one
 * transaction per batch for all of them, with one checkpoint row per projection and version moved
 * in that same transaction (exactly once). A projection whose checkpoint is missing (new, or its
 * version was bumped) is rebuilt into fresh tables and swapped in before the group resumes.
 */
export class ProjectionRunner {
  readonly subscriber: Subscriber
  private readonly options: ProjectionRunnerOptions

  constructor(options: ProjectionRunnerOptions) {
    this.options = options
    const { projections } = options
    const types = [...new Set(projections.flatMap((p) => p.handles as readonly string[]))]
    this.subscriber = new Subscriber({
      name: options.name ?? 'read-models',
      store: options.store,
      db: options.db,
      filter: { types },
      checkpoints: projections.map(checkpointName),
      batchSize: options.batchSize ?? 500,
      mode: 'exactly-once',
      prepare: (signal) => this.align(signal),
      handle: (trx, events) => applyBatch(trx, projections, events),
      ...(options.leasePool ? { leasePool: options.leasePool } : {}),
      ...(options.logger ? { logger: options.logger } : {}),
    })
  }

  start(): void {
    this.subscriber.start()
  }

  stop(): Promise<void> {
    return this.subscriber.stop()
  }

  get checkpoint(): Position | undefined {
    return this.subscriber.checkpoint
  }

  /** This instance holds the lease and projects; a standby's checkpoint does not move. */
  get isActive(): boolean {
    return this.subscriber.isActive
  }

  /** Resolves once every read model includes `position`. */
  caughtUp(position: Position, timeoutMs?: number): Promise<void> {
    return this.subscriber.caughtUp(position, timeoutMs)
  }

  status(): Promise<SubscriberStatus> {
    return this.subscriber.status()
  }

  /** Brings every projection of the group to one position before the group runs. */
  private async align(signal: AbortSignal): Promise<void> {
    const { db, store, projections, logger } = this.options
    const rows = await db.selectFrom('checkpoints').select(['name', 'position']).where('name', 'in', projections.map(checkpointName)).execute()
    const known = new Map(rows.map((r) => [r.name, r.position]))
    const missing = projections.filter((p) => !known.has(checkpointName(p)))
    if (missing.length === 0) return
    if (known.size === 0) {
      // Nothing projected under these versions: start every table empty and project from the beginning.
      const tables = projections.flatMap((p) => p.tables)
      await db.transaction().execute(async (trx) => {
        await sql`TRUNCATE ${sql.join(tables.map((t) => sql.table(t)))}`.execute(trx)
        await forgetOtherVersions(trx, projections)
      })
      return
    }
    const target = [...known.values()][0] ?? undefined
    for (const projection of missing) {
      if (signal.aborted) return
      logger?.info({ projection: checkpointName(projection), target }, 'projection has no checkpoint for its version: rebuilding')
      await rebuildProjection({ db, store, projection, target, signal, ...(this.options.leasePool ? { pool: this.options.leasePool } : {}) })
    }
  }
}
