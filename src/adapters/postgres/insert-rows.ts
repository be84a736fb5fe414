import { sql, type Kysely, type Selectable } from 'kysely'
import type { Database } from '../../database.ts'
import { copyRows, transactionClient } from './copy.ts'

/**
 * A row as `insertRows` takes it: each column as it is read back (objects for jsonb, Date for
 * timestamps or an ISO string, strings for numeric and int8), so it travels as JSON without a second
 * encoding.
 */
export type JsonRow<T> = {
  [K in keyof Selectable<T>]: Selectable<T>[K] extends Date ? Date | string : Selectable<T>[K]
}

type Columns<K extends keyof Database> = readonly (keyof Database[K] & string)[]

export interface InsertOptions<K extends keyof Database> {
  skipConflictsOn?: Columns<K>
  updateOnConflict?: { target: Columns<K>; set: Columns<K> }
}

/** PostgreSQL's limit on one statement's parameters (a 16-bit count in its protocol). */
export const MAX_PARAMETERS = 65_535

/**
 * Rows in slices whose statements stay under MAX_PARAMETERS, for a statement that binds
 * `parametersPerRow` a row (Kysely's multi-row VALUES binds one per cell); past the limit the count
 * wraps around in the protocol and PostgreSQL refuses the statement.
 */
export function* underParameterLimit<T>(rows: readonly T[], parametersPerRow: number): Generator<readonly T[]> {
  const size = Math.max(1, Math.floor(MAX_PARAMETERS / parametersPerRow))
  for (let i = 0; i < rows.length; i += size) yield rows.slice(i, i + size)
}

/** From this many rows on, a transaction's rows go by COPY (see copy.ts); fewer cost about the same either way. */
const COPY_MIN_ROWS = 50

/** Rows per statement: no JSON parameter near PostgreSQL's or V8's limits (a rebuild's page of 20,000 events takes several). */
const ROWS_PER_STATEMENT = 5000

/**
 * Inserts many rows with one parameter per statement: the rows as a JSON array, expanded by
 * `jsonb_populate_recordset` into the table's own row type. Kysely's multi-row VALUES binds one
 * parameter per cell and costs ~40 µs of Node CPU a row to build and send; this costs ~5 µs, which
 * is what a projection rebuild spends most of its time on. Every row names the same columns (checked:
 * a column missing from one row would be NULL there, not its default); columns no row names take
 * their defaults. A jsonb column takes the value as it is (an object stays an object). Money and
 * other numerics must be strings, as they are read back: JSON.stringify refuses a bigint.
 *
 * `skipConflictsOn`: a row that conflicts on these columns' unique index is left out (ON CONFLICT
 * (...) DO NOTHING); a conflict on any other constraint still fails the statement.
 * `updateOnConflict`: a row that conflicts on `target`'s unique index sets the `set` columns of the
 * row there instead (ON CONFLICT (...) DO UPDATE); no two rows of one call may share a target.
 * The table is named unqualified, so a rebuild's shadow schema, first on the search path, gets the rows.
 */
export async function insertRows<K extends keyof Database & string>(
  db: Kysely<Database>,
  table: K,
  rows: readonly JsonRow<Database[K]>[],
  options: InsertOptions<K> = {},
): Promise<void> {
  const first = rows[0]
  if (first === undefined) return
  const names = Object.keys(first)
  for (const row of rows) {
    if (Object.keys(row).length !== names.length) throw new Error(`insertRows(${table}): every row must name the same ${names.length} columns`)
  }
  // Many rows and no conflicts to handle: COPY on the transaction's own connection, when it can be found.
  if (options.skipConflictsOn === undefined && options.updateOnConflict === undefined && rows.length >= COPY_MIN_ROWS) {
    const client = await transactionClient(db)
    if (client !== null) {
      for (let i = 0; i < rows.length; i += ROWS_PER_STATEMENT) await copyRows(db, client, table, names, rows.slice(i, i + ROWS_PER_STATEMENT))
      return
    }
  }
  const ids = (cs: readonly string[]) => sql.join(cs.map((c) => sql.id(c)))
  const columns = ids(names)
  const { skipConflictsOn: skip, updateOnConflict: update } = options
  const onConflict =
    skip !== undefined
      ? sql` ON CONFLICT (${ids(skip)}) DO NOTHING`
      : update !== undefined
        ? sql` ON CONFLICT (${ids(update.target)}) DO UPDATE SET ${sql.join(update.set.map((c) => sql`${sql.id(c)} = EXCLUDED.${sql.id(c)}`))}`
        : sql``
  for (let i = 0; i < rows.length; i += ROWS_PER_STATEMENT) {
    const json = JSON.stringify(rows.slice(i, i + ROWS_PER_STATEMENT))
    await sql`INSERT INTO ${sql.id(table)} (${columns}) SELECT ${columns} FROM jsonb_populate_recordset(NULL::${sql.id(table)}, ${json}::jsonb)${onConflict}`.execute(db)
  }
}

/**
 * `insertRows` for rows built a chunk at a time, on one transaction's connection: each chunk is
 * written once built (after the chunk before it), and the next is built while PostgreSQL writes it
 * (see `writeChunks`). Give it a transaction: the chunks are then one atomic write.
 */
export function insertRowChunks<K extends keyof Database & string>(
  trx: Kysely<Database>,
  table: K,
  chunks: Iterable<readonly JsonRow<Database[K]>[]>,
  options: InsertOptions<K> = {},
): Promise<void> {
  return writeChunks(chunks, (rows) => insertRows(trx, table, rows, options))
}

/**
 * Writes chunks built one at a time, each once built (after the chunk before it): the iterator
 * builds the next chunk while the statement of the one before runs, never more than one ahead, so
 * the connection never has two of ours at once. Work whose rows cost Node time to build (the audit
 * log's hashes) overlaps that time with the database's instead of adding the two. Resolves when
 * every chunk is written; the first failure rejects, at most the one chunk being built meanwhile is
 * built after it, and no statement of ours is left to run after the caller's ROLLBACK.
 */
export async function writeChunks<T>(chunks: Iterable<T>, write: (chunk: T) => Promise<void>): Promise<void> {
  let writing: Promise<void> | undefined
  try {
    for (const chunk of chunks) {
      await writing
      writing = write(chunk)
    }
  } catch (err) {
    // A statement failed (it is done), or building a chunk threw: the statement still running
    // finishes (or fails) before the caller rolls back.
    await writing?.catch(() => undefined)
    throw err
  }
  await writing
}
