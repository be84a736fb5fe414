import { randomBytes } from 'node:crypto'
import pg from 'pg'

/**
 * A throw-away database beside the given server's, for one benchmark subject. While this process
 * lives it holds a lock on the database's name (see `dropAbandonedDatabases`); the first database a
 * process makes is preceded by a sweep of those whose maker is gone.
 */
export async function createBenchDatabase(serverUrl: string, prefix: string): Promise<{ url: string; name: string; drop: () => Promise<void> }> {
  const name = `bench_${prefix}_${process.pid}_${randomBytes(3).toString('hex')}`
  await sweepOnce(serverUrl)
  // Locked before it exists: a sweep never sees it unlocked while this process lives.
  await hold(serverUrl, name)
  try {
    await admin(serverUrl, async (c) => {
      await c.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}`)
      await c.query(`COMMENT ON DATABASE ${pg.escapeIdentifier(name)} IS ${pg.escapeLiteral(MARK)}`)
    })
  } catch (err) {
    await release(serverUrl, name)
    throw err
  }
  const url = new URL(serverUrl)
  url.pathname = `/${name}`
  return {
    url: url.toString(),
    name,
    drop: async () => {
      try {
        await admin(serverUrl, (c) => c.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)} WITH (FORCE)`))
      } finally {
        // Dropped or not, it is no longer this benchmark's: a later sweep drops what is left.
        await release(serverUrl, name)
      }
    },
  }
}

/** What every benchmark database is marked with (COMMENT ON DATABASE): no other database is ever swept. */
const MARK = 'circle-ledger benchmark database: dropped by its benchmark, or by the next one if its benchmark is gone'
/** Class of the advisory locks on benchmark databases' names, taken in the server's `postgres` database. */
const LOCK_CLASS = 0x62656e63

/**
 * Drops the benchmark databases whose benchmark is gone. A benchmark drops its own at the end, but
 * one killed (Ctrl-C, a closed pipe, a timeout) cannot, and leaves up to a million events behind.
 * Its maker holds a session-level advisory lock on each database's name for as long as its process
 * lives, wherever that runs (another machine, a container), and PostgreSQL lets it go when the
 * session ends. So a marked database whose lock can be taken has no benchmark left: it is dropped.
 * A drop that fails is reported and the rest go on. Returns the names dropped.
 */
export async function dropAbandonedDatabases(serverUrl: string, log: (line: string) => void = (line) => console.error(line)): Promise<string[]> {
  return admin(serverUrl, async (client) => {
    const marked = await client.query<{ name: string }>(
      `SELECT d.datname AS name FROM pg_database d
       JOIN pg_shdescription s ON s.objoid = d.oid AND s.classoid = 'pg_database'::regclass
       WHERE d.datname LIKE 'bench\\_%' AND s.description = $1`,
      [MARK],
    )
    const dropped: string[] = []
    for (const { name } of marked.rows) {
      const free = await client.query<{ free: boolean }>('SELECT pg_try_advisory_lock($1, hashtext($2)) AS free', [LOCK_CLASS, name])
      if (!free.rows[0]?.free) continue
      try {
        await client.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)} WITH (FORCE)`)
        dropped.push(name)
      } catch (err) {
        log(`could not drop the abandoned benchmark database ${name}: ${(err as Error).message}`)
      } finally {
        await client.query('SELECT pg_advisory_unlock($1, hashtext($2))', [LOCK_CLASS, name])
      }
    }
    if (dropped.length > 0) log(`dropped ${dropped.length} benchmark database(s) left by benchmarks that are gone: ${dropped.join(', ')}`)
    return dropped
  })
}

const sweeps = new Map<string, Promise<unknown>>()
/** Once per process and server, before its first database: a sweep costs a drop, not to be repeated between measurements. */
const sweepOnce = (serverUrl: string) => {
  const key = adminUrl(serverUrl)
  let sweep = sweeps.get(key)
  if (sweep === undefined) {
    // A sweep that cannot run stops no benchmark: what it would have dropped waits for the next one.
    sweep = dropAbandonedDatabases(serverUrl).catch((err: Error) => console.error(`could not look for abandoned benchmark databases: ${err.message}`))
    sweeps.set(key, sweep)
  }
  return sweep
}

/** Per server, the session holding this process's locks, and how many databases it holds them for. */
const keepers = new Map<string, { client: Promise<pg.Client>; held: number }>()

async function hold(serverUrl: string, name: string): Promise<void> {
  const key = adminUrl(serverUrl)
  let keeper = keepers.get(key)
  if (keeper === undefined) {
    const client = new pg.Client({ connectionString: key })
    client.on('error', () => undefined) // a lost keeper shows as a failed lock or unlock
    keepers.set(key, (keeper = { client: client.connect().then(() => client), held: 0 }))
  }
  keeper.held++
  try {
    await (await keeper.client).query('SELECT pg_advisory_lock($1, hashtext($2))', [LOCK_CLASS, name])
  } catch (err) {
    await letGo(key, keeper)
    throw err
  }
}

async function release(serverUrl: string, name: string): Promise<void> {
  const key = adminUrl(serverUrl)
  const keeper = keepers.get(key)
  if (keeper === undefined) return
  try {
    await (await keeper.client).query('SELECT pg_advisory_unlock($1, hashtext($2))', [LOCK_CLASS, name])
  } finally {
    await letGo(key, keeper)
  }
}

/** One database fewer held; with none left the session ends, so it keeps no process from exiting. */
async function letGo(key: string, keeper: { client: Promise<pg.Client>; held: number }): Promise<void> {
  if (--keeper.held > 0) return
  keepers.delete(key)
  await (await keeper.client.catch(() => undefined))?.end().catch(() => undefined)
}

function adminUrl(serverUrl: string): string {
  const url = new URL(serverUrl)
  url.pathname = '/postgres'
  return url.toString()
}

async function admin<T>(serverUrl: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: adminUrl(serverUrl) })
  await client.connect()
  try {
    return await work(client)
  } finally {
    await client.end()
  }
}

/**
 * Samples what the database's backends wait on (pg_stat_activity, every few ms) while a
 * measurement runs: the share of samples per wait event tells what limits a subject.
 */
export function sampleWaitEvents(serverUrl: string, database: string, everyMs = 10): { stop: () => Promise<Record<string, number>> } {
  const url = new URL(serverUrl)
  url.pathname = '/postgres'
  const client = new pg.Client({ connectionString: url.toString() })
  const counts = new Map<string, number>()
  let total = 0
  let running = true
  const loop = (async () => {
    await client.connect()
    while (running) {
      const res = await client.query<{ wait: string }>(
        `SELECT coalesce(wait_event_type || ':' || wait_event, 'CPU') AS wait FROM pg_stat_activity
         WHERE datname = $1 AND state <> 'idle' AND pid <> pg_backend_pid()`,
        [database],
      )
      for (const r of res.rows) counts.set(r.wait, (counts.get(r.wait) ?? 0) + 1)
      total += res.rows.length
      await new Promise((resolve) => setTimeout(resolve, everyMs))
    }
  })()
  return {
    stop: async () => {
      running = false
      await loop.catch(() => undefined)
      await client.end().catch(() => undefined)
      const shares = [...counts].sort((a, b) => b[1] - a[1]).slice(0, 6)
      return Object.fromEntries(shares.map(([k, v]) => [k, Math.round((v / Math.max(total, 1)) * 100) / 100]))
    },
  }
}
