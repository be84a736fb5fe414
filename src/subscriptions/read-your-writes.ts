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
  /** In-process runner: woken by its own progress instead of polling the checkpoint row. */
  local?: { caughtUp(position: Position, timeoutMs?: number): Promise<void> }
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
    if (options.local) {
      try {
        await options.local.caughtUp(target, timeoutMs)
        return
      } catch (err) {
        throw new ReadModelsBehind(`read models did not reach position ${target} within ${timeoutMs} ms`, { cause: err })
      }
    }
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const at = await readCheckpoint(options.db, options.checkpoint)
      if (at !== undefined && !isAfter(options.store, target, at)) return
      if (Date.now() >= deadline) throw new ReadModelsBehind(`read models did not reach position ${target} within ${timeoutMs} ms`)
      await sleep(options.pollMs ?? 10)
    }
  }
}
