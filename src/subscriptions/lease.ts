import { setTimeout as sleep } from 'node:timers/promises'
import pg from 'pg'

/** A held Postgres advisory lock: one active instance of `name` across processes. */
export interface Lease {
  /** Aborted when the lock's connection ends: stop working before another instance takes over. */
  lost: AbortSignal
  release(): Promise<void>
}

/**
 * One attempt at the advisory lock for `name`, on a dedicated connection held for the life of the
 * lease. Undefined when another session holds it; throws when the database cannot be reached.
 */
export async function tryLease(pool: pg.Pool, name: string): Promise<Lease | undefined> {
  const client = new pg.Client(pool.options)
  client.on('error', () => undefined)
  try {
    await client.connect()
    const res = await client.query<{ locked: boolean }>('SELECT pg_try_advisory_lock(hashtextextended($1, 0)) AS locked', [name])
    if (res.rows[0]?.locked) {
      const lost = new AbortController()
      client.on('end', () => lost.abort(new Error(`lease ${name} lost`)))
      return { lost: lost.signal, release: () => client.end().catch(() => undefined) }
    }
  } catch (err) {
    await client.end().catch(() => undefined)
    throw err
  }
  await client.end().catch(() => undefined)
  return undefined
}

/**
 * Waits until this process holds the advisory lock for `name` (retrying every `retryMs`).
 * Undefined when `signal` aborts first.
 */
export async function acquireLease(pool: pg.Pool, name: string, options: { signal: AbortSignal; retryMs?: number }): Promise<Lease | undefined> {
  while (!options.signal.aborted) {
    try {
      const lease = await tryLease(pool, name)
      if (lease) return lease
    } catch {
      // database unreachable: try again after the pause
    }
    await sleep(options.retryMs ?? 2000, undefined, { signal: options.signal }).catch(() => undefined)
  }
  return undefined
}

export interface LeasedLoopOptions {
  /** Pool for the lease connection; without one the loop runs unleased (one instance by construction). */
  pool?: pg.Pool | undefined
  /** The advisory lock's name: of all the processes running this loop, the one holding it is active. */
  name: string
  /** Pause between attempts to take the lease (ms). */
  retryMs?: number | undefined
  /**
   * The work, run while the lease is held, until `signal` aborts: stop() was called or the lease was
   * lost. Should it return earlier, the lease is released and taken again.
   */
  whileLeased: (signal: AbortSignal) => Promise<void>
  /** The lease was lost while running (not by stop()); the loop waits to take it again. */
  onLeaseLost?: () => void
}

/**
 * A role that one process at a time performs: start() runs `whileLeased` whenever this process
 * holds the lease for `name`; stop() aborts it and resolves once it returned and the lease is released.
 */
export class LeasedLoop {
  private readonly options: LeasedLoopOptions
  private controller = new AbortController()
  private running: Promise<void> | undefined
  private holding = false

  constructor(options: LeasedLoopOptions) {
    this.options = options
  }

  /** Holds the lease (or runs without one) and is running `whileLeased`. */
  get active(): boolean {
    return this.holding
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

  private async loop(signal: AbortSignal): Promise<void> {
    const { pool, name, retryMs } = this.options
    while (!signal.aborted) {
      let lease: Lease | undefined
      if (pool) {
        lease = await acquireLease(pool, name, { signal, retryMs: retryMs ?? 2000 })
        if (!lease) break
        const onLost = this.options.onLeaseLost
        if (onLost) lease.lost.addEventListener('abort', () => signal.aborted || onLost(), { once: true })
      }
      this.holding = true
      try {
        await this.options.whileLeased(lease ? AbortSignal.any([signal, lease.lost]) : signal)
      } finally {
        this.holding = false
        await lease?.release()
      }
    }
  }
}

export interface LeasedIntervalOptions {
  pool?: pg.Pool | undefined
  name: string
  retryMs?: number | undefined
  /** Pause after each pass (ms). */
  intervalMs: number
  /** One pass; a failure is handed to `onError` and the next pass comes after the interval. */
  pass: () => Promise<unknown>
  onError: (err: unknown) => void
}

/** A LeasedLoop whose work is one pass every `intervalMs`, for as long as the lease is held. */
export function leasedInterval(options: LeasedIntervalOptions): LeasedLoop {
  return new LeasedLoop({
    pool: options.pool,
    name: options.name,
    retryMs: options.retryMs,
    whileLeased: async (signal) => {
      while (!signal.aborted) {
        try {
          await options.pass()
        } catch (err) {
          options.onError(err)
        }
        await sleep(options.intervalMs, undefined, { signal }).catch(() => undefined)
      }
    },
  })
}
