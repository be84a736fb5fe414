import { sql, type Kysely } from 'kysely'
import pg from 'pg'
import { from as copyFrom } from 'pg-copy-streams'

/**
 * `COPY ... FROM STDIN` on a Kysely transaction's own connection. Kysely does not hand out the
 * driver's client, so the pools made by `createPool` register their clients by backend process id,
 * and a transaction finds its client by asking the server for `pg_backend_pid()` (once per
 * transaction). COPY costs PostgreSQL less than half the time of an INSERT from a JSON parameter
 * for the same rows (27 against 66 ms for 5,000 audit-log rows, 30 against 62 ms for 10,000
 * journal postings, measured here), which is most of what a projection rebuild waits for.
 */

/** Clients of the pools made by createPool, by backend process id (unique on one server at any moment; two servers may share one). */
const clients = new Map<number, Set<pg.PoolClient>>()

const processId = (client: pg.PoolClient) => (client as unknown as { processID?: number }).processID

/** Called by createPool for each client it connects and removes. */
export function registerClient(client: pg.PoolClient): void {
  const pid = processId(client)
  if (pid === undefined) return
  const known = clients.get(pid) ?? new Set()
  known.add(client)
  clients.set(pid, known)
}

export function forgetClient(client: pg.PoolClient): void {
  const pid = processId(client)
  const known = pid === undefined ? undefined : clients.get(pid)
  if (!known) return
  known.delete(client)
  if (known.size === 0) clients.delete(pid!)
}

const found = new WeakMap<object, pg.PoolClient | null>()

/**
 * The client a transaction runs on, or null when it cannot be told for sure: not a transaction, a
 * pool not made by createPool, or not exactly one registered client with that backend process id,
 * database, user and server port (a connection pooler in between, or two servers in one process).
 * The caller then writes through Kysely instead. A client is only handed out inside a transaction,
 * the one time it cannot be lent to anyone else.
 */
export async function transactionClient<DB>(trx: Kysely<DB>): Promise<pg.PoolClient | null> {
  if (!trx.isTransaction) return null
  const known = found.get(trx)
  if (known !== undefined) return known
  const row = (
    await sql<{ pid: number; db: string; usr: string; port: number }>`
      SELECT pg_backend_pid() AS pid, current_database() AS db, current_user AS usr, current_setting('port')::int AS port`.execute(trx)
  ).rows[0]
  const matching = row === undefined ? [] : [...(clients.get(row.pid) ?? [])].filter((c) => {
    const params = c as unknown as { database?: string; user?: string; port?: number }
    return params.database === row.db && params.user === row.usr && Number(params.port) === row.port
  })
  const client = matching.length === 1 ? matching[0]! : null
  found.set(trx, client)
  return client
}

/** Per transaction, each table's json and jsonb columns: asked once, by the first COPY into it. */
const jsonColumnsByTransaction = new WeakMap<object, Map<string, Promise<Set<string>>>>()

/**
 * The table's json and jsonb columns, as found on the search path (a rebuild's shadow table first).
 * Asked through the transaction, once per transaction and table: a migration changing a column's
 * type cannot run while the transaction holds the table, and a later transaction asks again.
 */
function jsonColumns<DB>(trx: Kysely<DB>, table: string): Promise<Set<string>> {
  let known = jsonColumnsByTransaction.get(trx)
  if (known === undefined) jsonColumnsByTransaction.set(trx, (known = new Map()))
  let columns = known.get(table)
  if (columns === undefined) {
    columns = sql<{ name: string }>`
      SELECT attname AS name FROM pg_attribute
      WHERE attrelid = to_regclass(${pg.escapeIdentifier(table)}) AND attnum > 0 AND NOT attisdropped
        AND atttypid IN ('json'::regtype, 'jsonb'::regtype)`
      .execute(trx)
      .then((result) => new Set(result.rows.map((r) => r.name)))
    // A failed lookup is not remembered: the transaction fails with it anyway.
    columns.catch(() => known.delete(table))
    known.set(table, columns)
  }
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
      if (!isJson[c] || value === null || value === undefined) line += copyText(value)
      else line += escapeJson(JSON.stringify(value))
    }
    lines[r] = line
  }
  // Everything that can throw happens before the COPY starts: a connection left in COPY mode would hang.
  const payload = lines.join('\n') + '\n'
  const statement = `COPY ${pg.escapeIdentifier(table)} (${columns.map((c) => pg.escapeIdentifier(c)).join(', ')}) FROM STDIN`
  await new Promise<void>((resolve, reject) => {
    const stream = client.query(copyFrom(statement))
    stream.on('error', reject)
    stream.on('finish', () => resolve())
    stream.end(payload)
  })
}

/** One value in COPY's text format: \N for null; backslash, newline, carriage return and tab escaped. */
export function copyText(value: unknown): string {
  if (value === null || value === undefined) return '\\N'
  let text: string
  if (typeof value === 'string') text = value
  else if (value instanceof Date) return value.toISOString() // an invalid Date throws: never a NULL by accident
  else if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new TypeError(`COPY: ${value} is not a value a column takes`)
    return String(value)
  } else if (typeof value === 'bigint') throw new TypeError('COPY: a bigint must be a string, as JsonRow holds numerics')
  else if (typeof value === 'boolean') return value ? 't' : 'f'
  else text = JSON.stringify(value)
  return escapeText(text)
}

/** Most text has nothing to escape: tested before anything is replaced. */
const escapeText = (text: string) => (HAS_SPECIALS.test(text) ? text.replace(SPECIALS, (ch) => ESCAPES[ch]!) : text)

/** JSON.stringify's text never holds a raw newline, return or tab (it escapes them): only its backslashes are doubled. */
const escapeJson = (json: string) => (json.includes('\\') ? json.replace(BACKSLASHES, '\\\\') : json)
const BACKSLASHES = /\\/g

const HAS_SPECIALS = /[\\\n\r\t]/
const SPECIALS = /[\\\n\r\t]/g
const ESCAPES: Record<string, string> = { '\\': '\\\\', '\n': '\\n', '\r': '\\r', '\t': '\\t' }
