import type { Transaction } from 'kysely'
import type { Db } from '../adapters/postgres/database.ts'
import type { Database } from '../database.ts'
import type { EventStore, Position } from '../events/event-store.ts'
import { checkpointName, type Projection } from './projection.ts'

/** Another instance moved the checkpoint under us: this instance lost its lease. */
export class CheckpointMoved extends Error {
  override name = 'CheckpointMoved'
}

/** Checkpoints that must move together do not agree; the group has to be aligned (rebuilt) first. */
export class CheckpointsDiverged extends Error {
  override name = 'CheckpointsDiverged'
}

/** The common position of several checkpoints; they must agree (a group moves them together). */
export async function readCheckpoints(db: Db, names: string[]): Promise<Position | undefined> {
  const rows = await db.selectFrom('checkpoints').select(['name', 'position']).where('name', 'in', names).execute()
  const positions = new Set(names.map((n) => rows.find((r) => r.name === n)?.position ?? undefined))
  if (positions.size > 1) throw new CheckpointsDiverged(`checkpoints ${names.join(', ')} are at different positions`)
  return positions.values().next().value
}

export async function readCheckpoint(db: Db, name: string): Promise<Position | undefined> {
  const row = await db.selectFrom('checkpoints').select('position').where('name', '=', name).executeTakeFirst()
  return row?.position ?? undefined
}

/** Compare-and-set: moves the checkpoint only from the position this instance read. */
export function saveCheckpoint(db: Db | Transaction<Database>, name: string, from: Position | undefined, to: Position): Promise<void> {
  return saveCheckpoints(db, [name], from, to)
}

/** Compare-and-set of several checkpoints that move together, in one statement. */
export async function saveCheckpoints(db: Db | Transaction<Database>, names: string[], from: Position | undefined, to: Position): Promise<void> {
  if (from === undefined) {
    const inserted = await db
      .insertInto('checkpoints')
      .values(names.map((name) => ({ name, position: to, updated_at: new Date() })))
      .onConflict((oc) => oc.column('name').doUpdateSet({ position: to, updated_at: new Date() }).where('checkpoints.position', 'is', null))
      .executeTakeFirst()
    if (inserted.numInsertedOrUpdatedRows !== BigInt(names.length)) throw new CheckpointMoved(`checkpoint ${names.join(', ')} was set by another instance`)
    return
  }
  const updated = await db
    .updateTable('checkpoints')
    .set({ position: to, updated_at: new Date() })
    .where('name', 'in', names)
    .where('position', '=', from)
    .executeTakeFirst()
  if (updated.numUpdatedRows !== BigInt(names.length)) throw new CheckpointMoved(`checkpoint ${names.join(', ')} moved away from ${from}`)
}

/**
 * Deletes the checkpoints of these projections' other versions, in one statement. They vouched for
 * rows that a rebuild replaced or a fresh start emptied; kept, they would let an older process take
 * the new rows (read models, the command side's snapshots) for its own.
 */
export async function forgetOtherVersions(trx: Transaction<Database>, projections: readonly Pick<Projection, 'name' | 'version'>[]): Promise<void> {
  if (projections.length === 0) return
  await trx
    .deleteFrom('checkpoints')
    .where((eb) => eb.or(projections.map((p) => eb('name', 'like', `projection:${p.name}@v%`))))
    .where('name', 'not in', projections.map(checkpointName))
    .execute()
}

/**
 * Whether position `a` comes after `b`. Positions are opaque: the store counts the distance where it
 * can (Postgres, memory); KurrentDB's fixed-width positions order as strings.
 */
export function isAfter(store: EventStore, a: Position, b: Position): boolean {
  const distance = store.distance(b, a)
  return distance === undefined ? a > b : distance > 0
}
