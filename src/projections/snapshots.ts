import type { Kysely } from 'kysely'
import type { Database } from '../database.ts'
import type { AnyEvent, SnapshotSource } from '../events/fold.ts'
import { readSnapshot, type DocumentModel } from './document.ts'

/**
 * The document read models as snapshots for the command side's cache: each row is its stream folded
 * by the same `evolve`, up to the row's revision, written in the same transaction as the
 * projection's checkpoint. A stream type without a document model has none.
 */
export function documentSnapshots(db: Kysely<Database>, models: readonly DocumentModel<unknown, AnyEvent>[]): SnapshotSource {
  const byType = new Map(models.map((m) => [m.type, m]))
  return async (type, id) => {
    const model = byType.get(type)
    return model ? readSnapshot(db, model, id) : undefined
  }
}
