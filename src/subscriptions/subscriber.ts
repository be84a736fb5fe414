import { setTimeout as sleep } from 'node:timers/promises'
import type { Transaction } from 'kysely'
import type pg from 'pg'
import type { Logger } from 'pino'
import type { EventFilter, EventStore, Position, RecordedEvent, SubscriptionBatch } from '../events/event-store.ts'
import type { Db } from '../adapters/postgres/database.ts'
import { backoffDelay } from '../adapters/retry.ts'
import type { Database } from '../database.ts'
import { isAfter, readCheckpoints, saveCheckpoints } from './checkpoints.ts'
import { acquireLease, type Lease } from './lease.ts'
import { raceTimer } from '../timers.ts'

export { CheckpointMoved, readCheckpoint, saveCheckpoint } from './checkpoints.ts'

type Handler =
  | {
      /** Read-model writes and the checkpoint commit in one transaction (exactly once). */
      mode: 'exactly-once'
      handle: (trx: Transaction<Database>, events: RecordedEvent[]) => Promise<void>
    }
  | {
      /**
       * Side effects outside Postgres (Circle, NATS): the checkpoint moves after the handler; handlers
       * are idempotent. `signal` aborts when this instance stops or loses its lease: a handler that
       * retries must give up then, or it would go on beside the instance that took over.
       */
      mode: 'at-least-once'
      handle: (events: RecordedEvent[], signal: AbortSignal) => Promise<void>
    }

export type SubscriberOptions = Handler & {
  name: string
  /**
   * Checkpoint rows moved together with every batch (default: `[name]`). A group of projections
   * keeps one row per projection and version, all at the same position.
   */
  checkpoints?: string[]
  /** Runs once the lease is held, before the checkpoint is read (e.g. to rebuild a projection whose version changed). */
  prepare?: (signal: AbortSignal) => Promise<void>
  store: EventStore
  db: Db
  /** Pool for the lease connection; omit to run without a lease (tests, single process by construction). */
  leasePool?: pg.Pool
  filter?: EventFilter
  batchSize?: number
  logger?: Logger
  /** Base and maximum delay before a failed batch is retried (ms): full-jitter exponential backoff. */
  retryDelayMs?: { first: number; max: number }
  /** How long a checkpoint moved only by batches with nothing to handle may wait before it is stored (ms). */
  checkpointIdleMs?: number
  /**
   * Called once a handled batch and its checkpoint have committed: what the handler wrote is now
   * visible to other connections (e.g. wake a worker that reads it).
   */
  onCommitted?: (events: RecordedEvent[]) => void
  leaseRetryMs?: number
}

export interface SubscriberStatus {
  name: string
  active: boolean
  checkpoint: Position | undefined
  lag: number | undefined
}

/**
 * Runs one named subscriber: resumes from its stored checkpoint, hands batches to its handler and
 * advances the checkpoint. With a lease pool, a Postgres advisory lock keeps a single active instance.
 */
export class Subscriber {
  readonly name: string
  private readonly options: SubscriberOptions
  private controller = new AbortController()
  private running: Promise<void> | undefined
  private active = false
  private position: Position | undefined
  private readonly waiters = new Set<() => void>()

  constructor(options: SubscriberOptions) {
    this.name = options.name
    this.options = options
  }

  start(): void {
    if (this.running) return
    this.controller = new AbortController()
    this.running = this.loop(this.controller.signal)
  }

  async stop(): Promise<void> {
    this.controller.abort()
    await this.running
    this.running = undefined
  }

  get checkpoint(): Position | undefined {
    return this.position
  }

  /** Holds the lease (or runs without one) and is consuming: its checkpoint moves. */
  get isActive(): boolean {
    return this.active
  }

  async status(): Promise<SubscriberStatus> {
    const head = await this.options.store.head()
    return { name: this.name, active: this.active, checkpoint: this.position, lag: this.options.store.distance(this.position, head) }
  }

  /** Resolves once the checkpoint has reached `position` (tests and read-your-writes waits). */
  async caughtUp(position: Position, timeoutMs = 10_000): Promise<void> {
    const reached = () => this.position !== undefined && !isAfter(this.options.store, position, this.position)
    if (reached()) return
    await new Promise<void>((resolve, reject) => {
      const check = () => {
        if (!reached()) return
        clearTimeout(timer)
        this.waiters.delete(check)
        resolve()
      }
      const timer = setTimeout(() => {
        this.waiters.delete(check)
        reject(new Error(`${this.name} did not reach ${position} within ${timeoutMs} ms (at ${this.position})`))
      }, timeoutMs)
      this.waiters.add(check)
    })
  }

  private async loop(signal: AbortSignal): Promise<void> {
    const { first, max } = this.options.retryDelayMs ?? { first: 200, max: 30_000 }
    let failures = 0
    while (!signal.aborted) {
      let lease: Lease | undefined
      // Aborted by stop() or by losing the lease connection, whichever comes first.
      const run = new AbortController()
      const forward = () => run.abort()
      signal.addEventListener('abort', forward, { once: true })
      try {
        if (this.options.leasePool) {
          lease = await acquireLease(this.options.leasePool, `subscriber:${this.name}`, { signal, retryMs: this.options.leaseRetryMs ?? 2000 })
          lease?.lost.addEventListener('abort', forward, { once: true })
        }
        if (signal.aborted) break
        this.active = true
        await this.consume(run.signal)
        failures = 0
      } catch (err) {
        if (signal.aborted) break
        this.options.logger?.error({ err, subscriber: this.name }, 'subscriber failed; retrying')
        await sleep(backoffDelay(failures++, { baseMs: first, maxMs: max }), undefined, { signal }).catch(() => undefined)
      } finally {
        signal.removeEventListener('abort', forward)
        this.active = false
        await lease?.release()
      }
    }
  }

  private async consume(signal: AbortSignal): Promise<void> {
    const { db, store } = this.options
    const names = this.options.checkpoints ?? [this.name]
    const idleMs = this.options.checkpointIdleMs ?? 250
    await this.options.prepare?.(signal)
    this.setPosition(await readCheckpoints(db, names))
    // The position stored in the checkpoint rows. A batch with nothing to handle (a filtered read
    // whose window held none of our events) moves only the position in memory: restarting from the
    // stored one re-reads events that need nothing, so the row catches up with the next batch that
    // handles something, or once the subscriber has been idle (or behind) for `idleMs`. That saves
    // a commit, and its WAL flush, per empty batch.
    let stored = this.position
    let dirtySince = 0
    const storeIdle = async () => {
      const to = this.position
      if (to === undefined || to === stored) return
      try {
        await saveCheckpoints(db, names, stored, to)
        stored = to
      } catch (err) {
        // Kept dirty: the next batch's compare-and-set from `stored` fails for real if another instance moved it.
        this.options.logger?.warn({ err, subscriber: this.name }, 'could not store an idle checkpoint; will retry')
      }
    }
    const batches = store.subscribe({ after: this.position, filter: this.options.filter, batchSize: this.options.batchSize ?? 200, signal })[Symbol.asyncIterator]()
    let next: Promise<IteratorResult<SubscriptionBatch>> | undefined = batches.next()
    try {
      for (;;) {
        let result: IteratorResult<SubscriptionBatch>
        if (stored === this.position) result = await next
        else {
          const idle = raceTimer(idleMs, 'idle' as const, signal, 'aborted' as const)
          const first = await Promise.race([next, idle.promise])
          idle.cancel()
          if (first === 'idle') {
            await storeIdle()
            continue
          }
          result = first === 'aborted' ? await next : first
        }
        next = undefined
        if (result.done) return
        const batch = result.value
        if (signal.aborted) throw signal.reason ?? new Error('aborted')
        if (batch.events.length === 0) {
          if (stored === this.position) dirtySince = Date.now()
          this.setPosition(batch.checkpoint)
          if (Date.now() - dirtySince >= idleMs) await storeIdle()
          next = batches.next()
          continue
        }
        if (this.options.mode === 'exactly-once') {
          const handle = this.options.handle
          await db.transaction().execute(async (trx) => {
            await handle(trx, batch.events)
            await saveCheckpoints(trx, names, stored, batch.checkpoint)
          })
        } else {
          await this.options.handle(batch.events, signal)
          await saveCheckpoints(db, names, stored, batch.checkpoint)
        }
        stored = batch.checkpoint
        this.setPosition(batch.checkpoint)
        this.options.onCommitted?.(batch.events)
        next = batches.next()
      }
    } finally {
      // A stop leaves the stored checkpoint where this instance got to; a failed batch ends the store's read.
      await storeIdle()
      if (next === undefined) await batches.return?.()
    }
  }

  private setPosition(position: Position | undefined): void {
    this.position = position
    for (const waiter of [...this.waiters]) waiter()
  }
}
