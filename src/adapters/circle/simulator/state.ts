import pg from 'pg'

/** The simulator's kinds of records; each is a JSON document under an id. */
export type Collection = 'wallets' | 'addresses' | 'transfers' | 'wires' | 'payouts' | 'cards' | 'idempotency' | 'jobs' | 'subscribers' | 'keys'

export interface ListFilter {
  walletId?: string
  /** An ISO-8601 instant: documents created at or after it (the deposit poller's `from`). */
  createdFrom?: string
}

/**
 * One page of a collection, newest first (the reverse of insertion order), as Circle pages its
 * lists. On PostgreSQL a page is one query with `LIMIT`, so paging through a list does not read the
 * whole list again for every page. Dates must parse (the caller checks them).
 */
export interface PageQuery extends ListFilter {
  /** An ISO-8601 instant: documents created at or before it. */
  createdTo?: string
  /** Only documents that contain this JSON, as PostgreSQL's `@>` reads it: objects matched key by key, other values equal (no arrays). */
  contains?: Record<string, unknown>
  /** The page of documents older than this one; empty when this one is not in the filtered list. */
  after?: string
  /** The page of documents newer than this one; empty when this one is not in the filtered list. */
  before?: string
  /** Documents per page, at least 1. */
  size: number
}

/** One stored document under its id. */
export interface Stored<T> {
  id: string
  doc: T
}

/** Reads and writes inside one atomic unit of work. */
export interface SimTx {
  get<T>(collection: Collection, id: string): Promise<T | undefined>
  /** Inserts or replaces; a replaced document keeps its place in the collection's order. */
  put<T>(collection: Collection, id: string, doc: T, walletIds?: string[]): Promise<void>
  delete(collection: Collection, id: string): Promise<void>
  /**
   * In insertion order; only documents that concern `walletId` when it is given, and only those
   * whose `createDate` (ISO-8601, as the simulator writes it) is at or after `createdFrom`.
   */
  list<T>(collection: Collection, filter?: ListFilter): Promise<Stored<T>[]>
  page<T>(collection: Collection, query: PageQuery): Promise<Stored<T>[]>
  /** The next value of a named counter, starting at `start`; never handed out twice. */
  next(counter: string, start: bigint): Promise<bigint>
  /** Runs `callback` once the unit has committed (never if it fails): what it starts sees the unit's writes. */
  afterCommit(callback: () => void): void
}

/** The name under which a unit of work locks one document (see `SimState.atomically`). */
export const documentLock = (collection: Collection, id: string) => `${collection}/${id}`

export interface UnitOptions {
  /**
   * The documents (`documentLock` names) the unit reads in order to change them. Given: the unit
   * runs beside every other unit that names none of them, as Circle serialises balance moves per
   * account, not across accounts. Omitted: the unit runs alone against every other unit.
   */
  locks?: readonly string[]
}

/**
 * Where the simulator keeps its state. `atomically` runs one unit of work isolated from the other
 * units on the same state, across processes when the state is shared (PostgreSQL): alone, or, when
 * it names its locks, beside the units that name none of the same.
 */
export interface SimState {
  readonly kind: 'memory' | 'postgres'
  atomically<T>(work: (tx: SimTx) => Promise<T>, options?: UnitOptions): Promise<T>
  /** Reads outside a unit of work see only committed state. */
  read: Pick<SimTx, 'get' | 'list' | 'page'>
  close(): Promise<void>
}

/** Runs a committed unit's callbacks; one that throws neither stops the others nor makes the unit look failed. */
function runCallbacks(callbacks: (() => void)[]): void {
  for (const callback of callbacks) {
    try {
      callback()
    } catch {
      // The unit committed; a callback's failure is the callback's (a settle timer not armed is picked up by the sweep).
    }
  }
}

/** Whether `doc` holds `pattern`: each of its keys, objects compared key by key and other values equal. */
function contains(doc: unknown, pattern: Record<string, unknown>): boolean {
  if (typeof doc !== 'object' || doc === null) return false
  return Object.entries(pattern).every(([key, want]) => {
    const have = (doc as Record<string, unknown>)[key]
    return typeof want === 'object' && want !== null ? contains(have, want as Record<string, unknown>) : have === want
  })
}

/** In-process state: fast, gone with the process. For tests and `npm run circle:simulator` without a database. */
export function memoryState(): SimState {
  const collections = new Map<Collection, Map<string, { doc: string; walletIds: string[] }>>()
  const counters = new Map<string, bigint>()
  const of = (c: Collection) => {
    let m = collections.get(c)
    if (!m) collections.set(c, (m = new Map()))
    return m
  }
  // Documents are kept serialised so a caller mutating what it read never changes the state behind the lock.
  const reads: Omit<SimTx, 'afterCommit'> = {
    async get<T>(c: Collection, id: string) {
      const row = of(c).get(id)
      return row ? (JSON.parse(row.doc) as T) : undefined
    },
    async put<T>(c: Collection, id: string, doc: T, walletIds: string[] = []) {
      of(c).set(id, { doc: JSON.stringify(doc), walletIds })
    },
    async delete(c: Collection, id: string) {
      of(c).delete(id)
    },
    async list<T>(c: Collection, filter: ListFilter = {}) {
      const out: Stored<T>[] = []
      const from = filter.createdFrom === undefined ? undefined : Date.parse(filter.createdFrom)
      for (const [id, row] of of(c)) {
        if (filter.walletId !== undefined && !row.walletIds.includes(filter.walletId)) continue
        const doc = JSON.parse(row.doc) as T & { createDate?: string }
        if (from !== undefined && (doc.createDate === undefined || Date.parse(doc.createDate) < from)) continue
        out.push({ id, doc })
      }
      return out
    },
    async page<T>(c: Collection, query: PageQuery) {
      const to = query.createdTo === undefined ? undefined : Date.parse(query.createdTo)
      const newestFirst = (await reads.list<T & { createDate?: string }>(c, query))
        .filter((s) => (to === undefined || (s.doc.createDate !== undefined && Date.parse(s.doc.createDate) <= to)) && (query.contains === undefined || contains(s.doc, query.contains)))
        .reverse()
      const at = (id: string) => newestFirst.findIndex((s) => s.id === id)
      if (query.after !== undefined) {
        const i = at(query.after)
        return i < 0 ? [] : newestFirst.slice(i + 1, i + 1 + query.size)
      }
      if (query.before !== undefined) {
        const i = at(query.before)
        return i < 0 ? [] : newestFirst.slice(Math.max(0, i - query.size), i)
      }
      return newestFirst.slice(0, query.size)
    },
    async next(counter: string, start: bigint) {
      const value = counters.get(counter) ?? start
      counters.set(counter, value + 1n)
      return value
    },
  }
  let queue: Promise<unknown> = Promise.resolve()
  return {
    kind: 'memory',
    // One process, one queue: every unit runs alone, whatever it locks.
    atomically<T>(work: (tx: SimTx) => Promise<T>): Promise<T> {
      const callbacks: (() => void)[] = []
      const run = queue.then(async () => {
        const result = await work({ ...reads, afterCommit: (callback) => void callbacks.push(callback) })
        runCallbacks(callbacks)
        return result
      })
      queue = run.catch(() => undefined)
      return run
    },
    read: reads,
    async close() {},
  }
}

const SCHEMA_LOCK = 'circle_sim.schema'
const STATE_LOCK = 'circle_sim.state'

/**
 * State in PostgreSQL, in a schema of its own (`circle_sim` by default): a restarted simulator
 * continues where it stopped, ids never repeat, and several simulators on one database act as one
 * Circle. The schema is created on first use; it is the simulator's, not the ledger's.
 */
export async function postgresState(databaseUrl: string, options: { schema?: string; poolSize?: number } = {}): Promise<SimState> {
  const schema = options.schema ?? 'circle_sim'
  if (!/^[a-z_][a-z0-9_]*$/.test(schema)) throw new Error(`simulator schema "${schema}" is not a plain identifier`)
  const pool = new pg.Pool({ connectionString: databaseUrl, max: options.poolSize ?? 4, connectionTimeoutMillis: 5000 })
  pool.on('error', () => undefined)
  const docs = `${schema}.documents`
  const counters = `${schema}.counters`
  const setup = await pool.connect()
  try {
    // Two processes starting together would race on CREATE ... IF NOT EXISTS.
    await setup.query('SELECT pg_advisory_lock(hashtextextended($1, 0))', [SCHEMA_LOCK])
    await setup.query(`
      CREATE SCHEMA IF NOT EXISTS ${schema};
      CREATE TABLE IF NOT EXISTS ${docs} (
        collection text NOT NULL,
        id         text NOT NULL,
        seq        bigserial,
        wallet_ids text[] NOT NULL DEFAULT '{}',
        data       jsonb NOT NULL,
        PRIMARY KEY (collection, id)
      );
      CREATE INDEX IF NOT EXISTS documents_wallet_ids ON ${docs} USING gin (wallet_ids);
      CREATE INDEX IF NOT EXISTS documents_order ON ${docs} (collection, seq);
      CREATE INDEX IF NOT EXISTS documents_created ON ${docs} (collection, (data->>'createDate'));
      CREATE TABLE IF NOT EXISTS ${counters} (name text PRIMARY KEY, value bigint NOT NULL);
    `)
  } finally {
    await setup.query('SELECT pg_advisory_unlock(hashtextextended($1, 0))', [SCHEMA_LOCK]).catch(() => undefined)
    setup.release()
  }

  const on = (client: pg.Pool | pg.PoolClient): Omit<SimTx, 'afterCommit'> => ({
    async get<T>(c: Collection, id: string) {
      const res = await client.query<{ data: T }>(`SELECT data FROM ${docs} WHERE collection = $1 AND id = $2`, [c, id])
      return res.rows[0]?.data
    },
    async put<T>(c: Collection, id: string, doc: T, walletIds: string[] = []) {
      await client.query(
        `INSERT INTO ${docs} (collection, id, wallet_ids, data) VALUES ($1, $2, $3, $4)
         ON CONFLICT (collection, id) DO UPDATE SET data = excluded.data, wallet_ids = excluded.wallet_ids`,
        [c, id, walletIds, JSON.stringify(doc)],
      )
    },
    async delete(c: Collection, id: string) {
      await client.query(`DELETE FROM ${docs} WHERE collection = $1 AND id = $2`, [c, id])
    },
    async list<T>(c: Collection, filter: ListFilter = {}) {
      const params: unknown[] = [c]
      let where = 'collection = $1'
      if (filter.walletId !== undefined) {
        params.push(filter.walletId)
        where += ` AND wallet_ids @> ARRAY[$${params.length}::text]`
      }
      if (filter.createdFrom !== undefined) {
        // The simulator writes every createDate with toISOString, so text order is time order and
        // the expression index answers it: a poll reads what is new, not the whole collection.
        params.push(new Date(filter.createdFrom).toISOString())
        where += ` AND data->>'createDate' >= $${params.length}`
      }
      const res = await client.query<{ id: string; data: T }>(`SELECT id, data FROM ${docs} WHERE ${where} ORDER BY seq`, params)
      return res.rows.map((r) => ({ id: r.id, doc: r.data }))
    },
    async page<T>(c: Collection, query: PageQuery) {
      const params: unknown[] = [c]
      const conditions = ['collection = $1']
      const param = (value: unknown) => `$${params.push(value)}`
      if (query.walletId !== undefined) conditions.push(`wallet_ids @> ARRAY[${param(query.walletId)}::text]`)
      // createDate is always toISOString's text, so text order is time order (as in list).
      if (query.createdFrom !== undefined) conditions.push(`data->>'createDate' >= ${param(new Date(query.createdFrom).toISOString())}`)
      if (query.createdTo !== undefined) conditions.push(`data->>'createDate' <= ${param(new Date(query.createdTo).toISOString())}`)
      if (query.contains !== undefined) conditions.push(`data @> ${param(JSON.stringify(query.contains))}::jsonb`)
      const where = conditions.join(' AND ')
      const limit = param(query.size)
      // The anchor must itself pass the filter, or the page is empty (as Circle answers an unknown cursor).
      const anchor = (id: string) => `(SELECT seq FROM ${docs} WHERE ${where} AND id = ${param(id)})`
      const sqlText =
        query.after !== undefined
          ? `SELECT id, data FROM ${docs} WHERE ${where} AND seq < ${anchor(query.after)} ORDER BY seq DESC LIMIT ${limit}`
          : query.before !== undefined
            ? `SELECT id, data FROM ${docs} WHERE ${where} AND seq > ${anchor(query.before)} ORDER BY seq ASC LIMIT ${limit}`
            : `SELECT id, data FROM ${docs} WHERE ${where} ORDER BY seq DESC LIMIT ${limit}`
      const res = await client.query<{ id: string; data: T }>(sqlText, params)
      const rows = res.rows.map((r) => ({ id: r.id, doc: r.data }))
      return query.before !== undefined ? rows.reverse() : rows
    },
    async next(counter: string, start: bigint) {
      const res = await client.query<{ value: string }>(
        `INSERT INTO ${counters} (name, value) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET value = ${counters}.value + 1 RETURNING value`,
        [counter, start.toString()],
      )
      const [row] = res.rows
      if (row === undefined) throw new Error(`counter ${counter} returned no row`)
      return BigInt(row.value)
    },
  })

  return {
    kind: 'postgres',
    async atomically<T>(work: (tx: SimTx) => Promise<T>, options: UnitOptions = {}): Promise<T> {
      const client = await pool.connect()
      try {
        if (options.locks === undefined) {
          await client.query(`BEGIN ISOLATION LEVEL READ COMMITTED; SELECT pg_advisory_xact_lock(hashtextextended(${pg.escapeLiteral(STATE_LOCK)}, 0))`)
        } else {
          // The state lock shared first, then the unit's own in one sorted order: a unit that runs
          // alone waits for every keyed unit, and two keyed units never wait for each other in a circle.
          // READ COMMITTED: each statement sees what the units before it committed, whatever the database's default.
          await client.query(`BEGIN ISOLATION LEVEL READ COMMITTED; SELECT pg_advisory_xact_lock_shared(hashtextextended(${pg.escapeLiteral(STATE_LOCK)}, 0))`)
          const names = [...new Set(options.locks)].sort().map((name) => `${schema}/${name}`)
          await client.query('SELECT count(pg_advisory_xact_lock(hashtextextended(n, 0))) FROM unnest($1::text[]) AS n', [names])
        }
        const callbacks: (() => void)[] = []
        const result = await work({ ...on(client), afterCommit: (callback) => void callbacks.push(callback) })
        await client.query('COMMIT')
        runCallbacks(callbacks)
        return result
      } catch (err) {
        await client.query('ROLLBACK').catch(() => undefined)
        throw err
      } finally {
        client.release()
      }
    },
    read: on(pool),
    async close() {
      await pool.end()
    },
  }
}
