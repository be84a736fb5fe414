import { sql, type Kysely, type Transaction } from 'kysely'
import { underParameterLimit } from '../adapters/postgres/insert-rows.ts'
import type { Database } from '../database.ts'
import type { StreamType } from '../events/event.ts'
import type { AnyEvent, Snapshot } from '../events/fold.ts'
import { parseStreamName } from '../events/stream-name.ts'
import { checkpointName, type Projection, type Recorded } from '../subscriptions/projection.ts'
import { decodeState, encodeState } from './document-codec.ts'
import type { DocumentColumns } from './document.table.ts'
import { pageQuery, type Page, type PageRequest } from './pagination.ts'

/** Read-model tables that hold one folded stream per row. */
export type DocumentTable = { [T in keyof Database]: Database[T] extends DocumentColumns ? T : never }[keyof Database]

/** One resource as its read model holds it: the folded state and the times of its first and last event. */
export interface Resource<S> {
  state: S
  createdAt: string
  updatedAt: string
}

export interface DocumentModel<S, E extends AnyEvent> {
  projection: Projection<E>
  table: DocumentTable
  type: StreamType<S, E>
}

/**
 * A read model holding each stream of one category as a row: the state `evolve` folds (the same
 * function the write side uses, so a read can never disagree with a decision), plus indexed
 * columns derived from it for lists and filters. A batch costs two statements per model: one
 * read of the rows it touches, one upsert (more upserts only past PostgreSQL's parameter limit, a
 * rebuild's page of thousands of rows).
 */
export function documentModel<S, E extends AnyEvent>(def: {
  name: string
  version: number
  table: DocumentTable
  type: StreamType<S, E>
  /**
   * Every event type of the stream, as an object so the compiler rejects a missing one: the row is
   * the stream's folded state, so an event type left out would silently freeze it.
   */
  handles: Record<E['type'], true>
  /** The indexed columns of a row, from its state (nulls where unknown). */
  columns(state: S): Record<string, string | null>
}): DocumentModel<S, E> {
  const projection: Projection<E> = {
    name: def.name,
    version: def.version,
    handles: Object.keys(def.handles) as E['type'][],
    tables: [def.table],
    async handle(trx, events) {
      const byId = new Map<string, Recorded<E>[]>()
      for (const e of events) {
        const { category, id } = parseStreamName(e.stream)
        if (category !== def.type.category) continue
        const list = byId.get(id)
        if (list) list.push(e)
        else byId.set(id, [e])
      }
      if (byId.size === 0) return
      const db = untyped(trx)
      // One array parameter: a rebuild's page names thousands of ids.
      const existing = await db.selectFrom(def.table).select(['id', 'state', 'created_at', 'revision']).where('id', '=', sql<string>`ANY(${[...byId.keys()]}::text[])`).execute()
      const current = new Map(existing.map((r) => [r.id as string, r]))
      const rows = [...byId].flatMap(([id, all]) => {
        const row = current.get(id)
        // Events the row already holds are skipped, so a batch handed over twice changes nothing.
        const list = row ? all.filter((e) => e.revision > (row.revision as number)) : all
        const first = list[0]
        const last = list.at(-1)
        if (first === undefined || last === undefined) return []
        const state = list.reduce((s, e) => def.type.evolve(s, e as unknown as E), row ? decodeState<S>(row.state) : def.type.initialState)
        return {
          id,
          state: encodeState(state),
          created_at: row ? (row.created_at as Date) : first.metadata.occurredAt,
          updated_at: last.metadata.occurredAt,
          position: last.position,
          revision: last.revision,
          ...def.columns(state),
        }
      })
      const [firstRow] = rows
      if (firstRow === undefined) return
      const columns = Object.keys(firstRow).filter((c) => c !== 'id' && c !== 'created_at')
      for (const slice of underParameterLimit(rows, Object.keys(firstRow).length)) {
        await db
          .insertInto(def.table)
          .values(slice)
          .onConflict((oc) => oc.column('id').doUpdateSet(Object.fromEntries(columns.map((c) => [c, sql.ref(`excluded.${c}`)]))))
          .execute()
      }
    },
  }
  return { projection, table: def.table, type: def.type }
}

// Kysely cannot type a table chosen at run time; the per-model query functions stay typed.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const untyped = (db: Kysely<Database> | Transaction<Database>) => db as unknown as Kysely<any>

export function toResource<S>(row: { state: unknown; created_at: Date; updated_at: Date }): Resource<S> {
  return { state: decodeState<S>(row.state), createdAt: row.created_at.toISOString(), updatedAt: row.updated_at.toISOString() }
}

/** One resource by id; undefined when the read model has no row for it. */
export async function readDocument<S>(db: Kysely<Database>, model: DocumentModel<S, AnyEvent>, id: string): Promise<Resource<S> | undefined> {
  const row = await untyped(db).selectFrom(model.table).select(['state', 'created_at', 'updated_at']).where('id', '=', id).executeTakeFirst()
  return row ? toResource<S>(row) : undefined
}

/**
 * One stream's row as a snapshot for the write side: its state and the revision of the last event
 * folded into it. Only while the live table is this code's version of the projection (its checkpoint
 * exists): after a version change, until the rebuild puts the new table in place, the rows were
 * folded by another `evolve` and are not offered.
 */
export async function readSnapshot<S>(db: Kysely<Database>, model: DocumentModel<S, AnyEvent>, id: string): Promise<Snapshot<S> | undefined> {
  const row = await untyped(db)
    .selectFrom(model.table)
    .select(['state', 'revision', 'position'])
    .where('id', '=', id)
    .where(sql<boolean>`EXISTS (SELECT 1 FROM checkpoints WHERE name = ${checkpointName(model.projection)})`)
    .executeTakeFirst()
  return row ? { state: decodeState<S>(row.state), revision: row.revision as number, position: row.position as string } : undefined
}

/** Equality filters on indexed columns (undefined = no filter) and a creation-time range. */
export interface DocumentFilter {
  equals: Record<string, string | undefined>
  createdAfter?: string | undefined
  createdBefore?: string | undefined
}

/** A page of resources, newest first, with the cursor of the next page. */
export async function listDocuments<S>(
  db: Kysely<Database>,
  model: DocumentModel<S, AnyEvent>,
  filter: DocumentFilter,
  page: PageRequest,
): Promise<Page<{ id: string; resource: Resource<S> }>> {
  let query = untyped(db).selectFrom(model.table).select(['id', 'state', 'created_at', 'updated_at'])
  for (const [column, value] of Object.entries(filter.equals)) if (value !== undefined) query = query.where(column, '=', value)
  if (filter.createdAfter !== undefined) query = query.where('created_at', '>', filter.createdAfter)
  if (filter.createdBefore !== undefined) query = query.where('created_at', '<', filter.createdBefore)
  return pageQuery(query, page, (row) => ({ id: row.id as string, resource: toResource<S>(row as never) }))
}
