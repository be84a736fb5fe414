import { sql, type SelectQueryBuilder } from 'kysely'
import { storableText } from '../adapters/postgres/text.ts'

export const DEFAULT_LIMIT = 50
export const MAX_LIMIT = 200

export interface PageRequest {
  limit?: number | undefined
  /** Opaque: the `nextCursor` of the previous page. */
  cursor?: string | undefined
}

export interface Page<T> {
  items: T[]
  /** Pass as `cursor` for the next (older) page; null on the last page. */
  nextCursor: string | null
}

/** A cursor that is not one this service handed out. */
export class InvalidCursor extends Error {
  override name = 'InvalidCursor'
}

interface Position {
  createdAt: string
  id: string
}

// The cursor is the sort key of the last row served: newest first by creation time, id breaking ties.
export function encodeCursor(p: Position): string {
  return Buffer.from(JSON.stringify([p.createdAt, p.id])).toString('base64url')
}

/**
 * A creation time as encodeCursor writes it (Date#toISOString) and PostgreSQL's cast takes: the
 * same text after a round trip through Date (so no 30 February, which Date.parse rolls over), from
 * year 0001 (PostgreSQL has no year 0000).
 */
const realInstant = (s: string) => /^[0-9]{4}-/.test(s) && !s.startsWith('0000') && !Number.isNaN(Date.parse(s)) && new Date(s).toISOString() === s
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

/** The id column's type: a uuid column refuses any other id in the comparison, so a cursor's id is checked first. */
export type IdType = 'text' | 'uuid'

export function decodeCursor(cursor: string, idType: IdType = 'text'): Position {
  try {
    const value: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'))
    if (
      Array.isArray(value) &&
      value.length === 2 &&
      typeof value[0] === 'string' &&
      typeof value[1] === 'string' &&
      realInstant(value[0]) &&
      (idType === 'uuid' ? UUID.test(value[1]) : storableText(value[1]))
    ) {
      return { createdAt: value[0], id: value[1] }
    }
  } catch {
    // falls through to the refusal below
  }
  throw new InvalidCursor('cursor is not one this service issued; pass back nextCursor unchanged')
}

export const clampLimit = (limit: number | undefined) => Math.min(Math.max(limit ?? DEFAULT_LIMIT, 1), MAX_LIMIT)

/**
 * Runs a query over a table with `created_at` and an id column, newest first, one page at a time.
 * Keyset pagination: a page costs the same however deep it is, and rows added meanwhile never
 * shift a later page.
 */
export async function pageQuery<DB, TB extends keyof DB, O extends { created_at: Date }, T>(
  query: SelectQueryBuilder<DB, TB, O>,
  page: PageRequest,
  toItem: (row: O) => T,
  id: { column?: string; type?: IdType } = {},
): Promise<Page<T>> {
  const idColumn = id.column ?? 'id'
  const limit = clampLimit(page.limit)
  let q = query
  if (page.cursor !== undefined) {
    const after = decodeCursor(page.cursor, id.type)
    q = q.where(sql<boolean>`(created_at, ${sql.ref(idColumn)}) < (${after.createdAt}::timestamptz, ${after.id})`)
  }
  const rows = await q
    .orderBy(sql`created_at`, 'desc')
    .orderBy(sql.ref(idColumn), 'desc')
    .limit(limit + 1)
    .execute()
  const more = rows.length > limit
  const served = more ? rows.slice(0, limit) : rows
  const last = served.at(-1) as (O & Record<string, unknown>) | undefined
  return {
    items: served.map((r) => toItem(r as O)),
    nextCursor: more && last ? encodeCursor({ createdAt: last.created_at.toISOString(), id: String(last[idColumn]) }) : null,
  }
}
