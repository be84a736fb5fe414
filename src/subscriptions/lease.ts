import { setTimeout as sleep } from 'node:timers/promises'
import pg from 'pg'

/** A held Postgres advisory lock: one active instance of `name` across processes. */
export interface Lease {
  /** Aborted when the lock's connection ends: stop working before another instance takes over. */
  lost: AbortSignal
  release(): Promise<void>
}

/**
 * Waits until this process holds the advisory lock for `name` (retrying every `retryMs`), on a
 * dedicated connection held for the life of the lease. Undefined when `signal` aborts first.
 */
export async function acquireLease(pool: pg.Pool, name: string, options: { signal: AbortSignal; retryMs?: number }): Promise<Lease | undefined> {
  while (!options.signal.aborted) {
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
    } catch {
      // database unreachable: try again after the pause
    }
    await client.end().catch(() => undefined)
    await sleep(options.retryMs ?? 2000, undefined, { signal: options.signal }).catch(() => undefined)
  }
  return undefined
}
