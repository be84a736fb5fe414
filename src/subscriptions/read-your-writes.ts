import { setTimeout as sleep } from 'node:timers/promises'
import type { Db } from '../adapters/postgres/database.ts'
import type { EventStore, Position } from '../events/event-store.ts'
import { isAfter, readCheckpoint } from './checkpoints.ts'

/** The read models did not reach a write in time; the write stands, a retry (same Idempotency-Key) reads it. */
export class ReadModelsBehind extends Error {
  override name = 'ReadModelsBehind'
}

/** Resolves once every read model includes `position` (undefined: the store's head now). */
export type WaitForReadModels = (position?: Position) => Promise<void>

export interface ReadYourWritesOptions {
  store: EventStore
  db: Db
  /** A checkpoint row of the read-model group (they move together). */
  checkpoint: string
  /**
   * The projections of this process, when it runs them: while they hold the lease the wait follows
   * their progress; as a standby (another instance projects) it polls the checkpoint row.
   */
  local?: { readonly isActive: boolean; caughtUp(position: Position, timeoutMs?: number): Promise<void> }
  timeoutMs?: number
  pollMs?: number
}

/**
 * Read-your-writes for the HTTP API: a POST answers only once the read models include what it wrote,
 * so a GET after it never 404s and never shows an older status. With the projections in the same
 * process it waits on their progress; an API-only instance polls the group's checkpoint row.
 */
export function readYourWrites(options: ReadYourWritesOptions): WaitForReadModels {
  const timeoutMs = options.timeoutMs ?? 10_000
  return async (position) => {
    const target = position ?? (await options.store.head())
    if (target === undefined) return
    const deadline = Date.now() + timeoutMs
    for (;;) {
      if (options.local?.isActive) {
        try {
          // Short slices, so a runner that loses its lease meanwhile falls back to polling.
          await options.local.caughtUp(target, Math.max(1, Math.min(250, deadline - Date.now())))
          return
        } catch {
          // not there yet
        }
      } else {
        const at = await readCheckpoint(options.db, options.checkpoint)
        if (at !== undefined && !isAfter(options.store, target, at)) return
        await sleep(options.pollMs ?? 10)
      }
      if (Date.now() >= deadline) throw new ReadModelsBehind(`read models did not reach position ${target} within ${timeoutMs} ms`)
    }
  }
}
