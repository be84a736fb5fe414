import type { Transaction } from 'kysely'
import type { Database } from '../database.ts'
import type { RecordedEvent } from '../events/event-store.ts'
import type { AnyEvent } from '../events/fold.ts'

/** A recorded event narrowed to one member of a domain event union, so `switch (e.type)` narrows `data`. */
export type Recorded<E extends AnyEvent> = E extends AnyEvent ? Omit<RecordedEvent, 'type' | 'data'> & E : never

/**
 * A read model: the events it handles and how they change its tables. `handle` runs inside the
 * transaction that also moves the projection's checkpoint, so every event is applied exactly once.
 */
export interface Projection<E extends AnyEvent = AnyEvent> {
  /** Stable name; with the version it keys the checkpoint, so bumping the version rebuilds the tables. */
  name: string
  version: number
  /** Event types it handles; it is never given any other. */
  handles: readonly E['type'][]
  /** Tables it owns: emptied and rebuilt with it. */
  tables: readonly (keyof Database & string)[]
  /**
   * Indexes of its tables (not constraints) that `handle` never reads, only the API: a rebuild
   * creates them once its rows are in, one sort each, instead of adding an entry per row.
   */
  deferredIndexes?: readonly string[]
  handle(trx: Transaction<Database>, events: Recorded<E>[]): Promise<void>
}

export const checkpointName = (p: Pick<Projection, 'name' | 'version'>) => `projection:${p.name}@v${p.version}`

/** The events of a batch this projection handles, in position order. */
export function eventsFor<E extends AnyEvent>(projection: Projection<E>, events: RecordedEvent[]): Recorded<E>[] {
  const handles = new Set<string>(projection.handles)
  return events.filter((e) => handles.has(e.type)) as Recorded<E>[]
}
