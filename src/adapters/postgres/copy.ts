import { sql, type Kysely } from 'kysely'
import type pg from 'pg'
import { from as copyFrom } from 'pg-copy-streams'

/**
 * `COPY ... FROM STDIN` on a Kysely transaction's own connection. Kysely does not hand out the
 * driver's client, so the pools made by `createPool` register their clients by backend process id,
 * and a transaction finds its client by asking the server for `pg_backend_pid()` (once per
 * transaction). COPY costs PostgreSQL less than half the time of an INSERT from a JSON parameter
 * for the same rows (27 against 66 ms for 5,000 audit-log rows, 30 against 62 ms for 10,000
 * journal postings, measured here), which is most of what a projection rebuild waits for.
 */

/** Clients of the pools made by createPool, by backend process id (unique on a server at any moment). */
const clients = new Map<number, pg.PoolClient>()

/** Called by createPool for each client it connects and removes. */
export function registerClient(client: pg.PoolClient): void {
  const pid = (client as unknown as { processID?: number }).processID
  if (pid !== undefined) clients.set(pid, client)
}

export function forgetClient(client: pg.PoolClient): void {
  const pid = (client as unknown as { processID?: number }).processID
  if (pid !== undefined && clients.get(pid) === client) clients.delete(pid)
}

const found = new WeakMap<object, pg.PoolClient | null>()

/**
 * The client a transaction runs on, or null when it cannot be told for sure (not a transaction, a
 * pool not made by createPool, or the id matches a client of another server): the caller then
 * writes through Kysely instead. A client is only handed out inside a transaction, the one time
 * it cannot be lent to anyone else.
 */
export async function transactionClient<DB>(trx: Kysely<DB>): Promise<pg.PoolClient | null> {
  if (!trx.isTransaction) return null
  const known = found.get(trx)
  if (known !== undefined) return known
  const row = (await sql<{ pid: number; db: string }>`SELECT pg_backend_pid() AS pid, current_database() AS db`.execute(trx)).rows[0]
  const client = row === undefined ? undefined : clients.get(row.pid)
  const same = client !== undefined && (client as unknown as { database?: string }).database === row?.db
  found.set(trx, same ? client : null)
  return same ? client : null
}

/** The table's json and jsonb columns (as found on the search path), cached by name: a shadow table has its live table's columns. */
const jsonColumnsByTable = new Map<string, Set<string>>()

async function jsonColumns<DB>(trx: Kysely<DB>, table: string): Promise<Set<string>> {
  const known = jsonColumnsByTable.get(table)
  if (known) return known
  const row = (
    await sql<{ json: string[]; found: boolean }>`
      SELECT coalesce(array_agg(attname::text) FILTER (WHERE atttypid IN ('json'::regtype, 'jsonb'::regtype)), '{}') AS json,
             to_regclass(${quoteIdentifier(table)}) IS NOT NULL AS found
      FROM pg_attribute WHERE attrelid = to_regclass(${quoteIdentifier(table)}) AND attnum > 0 AND NOT attisdropped`.execute(trx)
  ).rows[0]
  const columns = new Set(row?.json ?? [])
  // A table not found (yet) is not remembered: the COPY will say it does not exist.
  if (row?.found) jsonColumnsByTable.set(table, columns)
  return columns
}

/**
 * Writes the rows with one COPY in text format, columns in the given order. Values as JsonRow
 * holds them: null, strings (numerics and int8 included), numbers, booleans, Date; a json or jsonb
 * column's value is written as JSON whatever it is (an object, or a string that is a JSON string).
 */
export async function copyRows<DB>(trx: Kysely<DB>, client: pg.PoolClient, table: string, columns: readonly string[], rows: readonly Record<string, unknown>[]): Promise<void> {
  const json = await jsonColumns(trx, table)
  const isJson = columns.map((c) => json.has(c))
  const lines: string[] = new Array(rows.length)
  for (let r = 0; r < rows.length; r++) {
    const row = rows[r]!
    let line = ''
    for (let c = 0; c < columns.length; c++) {
      if (c > 0) line += '\t'
      const value = row[columns[c]!]
      line += isJson[c] && value !== null && value !== undefined ? escapeText(JSON.stringify(value)) : copyText(value)
    }
    lines[r] = line
  }
  const statement = `COPY ${quoteIdentifier(table)} (${columns.map(quoteIdentifier).join(', ')}) FROM STDIN`
  await new Promise<void>((resolve, reject) => {
    const stream = client.query(copyFrom(statement))
    stream.on('error', reject)
    stream.on('finish', () => resolve())
    stream.end(lines.join('\n') + '\n')
  })
}

/** One value in COPY's text format: \N for null; backslash, newline, carriage return and tab escaped. */
export function copyText(value: unknown): string {
  if (value === null || value === undefined) return '\\N'
  let text: string
  if (typeof value === 'string') text = value
  else if (value instanceof Date) return value.toISOString()
  else if (typeof value === 'number' || typeof value === 'bigint') return String(value)
  else if (typeof value === 'boolean') return value ? 't' : 'f'
  else text = JSON.stringify(value)
  return escapeText(text)
}

const escapeText = (text: string) => (SPECIAL.test(text) ? text.replace(SPECIALS, (ch) => ESCAPES[ch]!) : text)

const SPECIAL = /[\\\n\r\t]/
const SPECIALS = /[\\\n\r\t]/g
const ESCAPES: Record<string, string> = { '\\': '\\\\', '\n': '\\n', '\r': '\\r', '\t': '\\t' }

const quoteIdentifier = (name: string) => `"${name.replace(/"/g, '""')}"`
