import { sql, type Kysely, type Selectable } from 'kysely'
import type { Database } from '../../database.ts'

/**
 * A row as `insertRows` takes it: each column as it is read back (objects for jsonb, Date for
 * timestamps or an ISO string, strings for numeric and int8), so it travels as JSON without a second encoding.
 */
export type JsonRow<T> = { [K in keyof Selectable<T>]: Selectable<T>[K] extends Date ? Date | string : Selectable<T>[K] }

/**
 * Inserts many rows in one statement with one parameter: the rows as a JSON array, expanded by
 * `jsonb_populate_recordset` into the table's own row type. Kysely's multi-row VALUES binds one
 * parameter per cell and costs ~40 µs of Node CPU a row to build and send; this costs ~5 µs, which
 * is what a projection rebuild spends most of its time on. Columns not named by the first row take
 * their defaults; a jsonb column takes the value as it is (an object stays an object). Money and
 * other numerics must be strings, as they are read back: JSON.stringify refuses a bigint.
 *
 * `skipConflicts`: a row that breaks a unique constraint is left out (ON CONFLICT DO NOTHING).
 * The table is named unqualified, so a rebuild's shadow schema, first on the search path, gets the rows.
 */
export async function insertRows<K extends keyof Database & string>(
  db: Kysely<Database>,
  table: K,
  rows: readonly JsonRow<Database[K]>[],
  options: { skipConflicts?: boolean } = {},
): Promise<void> {
  const first = rows[0]
  if (first === undefined) return
  const columns = sql.join(Object.keys(first).map((c) => sql.id(c)))
  const onConflict = options.skipConflicts === true ? sql` ON CONFLICT DO NOTHING` : sql``
  await sql`INSERT INTO ${sql.id(table)} (${columns}) SELECT ${columns} FROM jsonb_populate_recordset(NULL::${sql.id(table)}, ${JSON.stringify(rows)}::jsonb)${onConflict}`.execute(db)
}
