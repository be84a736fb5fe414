import { randomBytes } from 'node:crypto'
import pg from 'pg'

/** A throw-away database beside the given server's, for one benchmark subject. */
export async function createBenchDatabase(serverUrl: string, prefix: string): Promise<{ url: string; name: string; drop: () => Promise<void> }> {
  const name = `bench_${prefix}_${process.pid}_${randomBytes(3).toString('hex')}`
  await dropAbandonedDatabases(serverUrl)
  const url = new URL(serverUrl)
  url.pathname = `/${name}`
  await admin(serverUrl, `CREATE DATABASE ${pg.escapeIdentifier(name)}`)
  return { url: url.toString(), name, drop: async () => void (await admin(serverUrl, `DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)} WITH (FORCE)`)) }
}

/** A benchmark database's name: `bench_<prefix>_<pid of the process that made it>_<6 hex>`. */
const BENCH_DATABASE = /^bench_[a-z0-9_-]+?_(\d+)_[0-9a-f]{6}$/

/**
 * Drops the databases of benchmarks whose process is gone: a benchmark drops its own at the end,
 * but one killed (Ctrl-C, a closed pipe, a timeout) leaves it behind, up to a million events each.
 * Only on a server of this machine, where the pid in a name is a process that can be asked after;
 * a live process with that pid (the benchmark itself, or one beside it) keeps its databases.
 * Returns the names dropped.
 */
export async function dropAbandonedDatabases(serverUrl: string): Promise<string[]> {
  if (!onThisMachine(serverUrl)) return []
  const names = await admin(serverUrl, `SELECT datname FROM pg_database WHERE datname LIKE 'bench\\_%'`)
  const abandoned = names.map((r) => r.datname).filter((name) => {
    const pid = BENCH_DATABASE.exec(name)?.[1]
    return pid !== undefined && !isRunning(Number(pid))
  })
  for (const name of abandoned) await admin(serverUrl, `DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)} WITH (FORCE)`)
  return abandoned
}

function onThisMachine(serverUrl: string): boolean {
  const url = new URL(serverUrl)
  const host = url.searchParams.get('host') ?? url.hostname
  return host === '' || host.startsWith('/') || ['127.0.0.1', 'localhost', '[::1]', '::1'].includes(host)
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    // EPERM: it runs, as another user.
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

async function admin(serverUrl: string, sql: string): Promise<{ datname: string }[]> {
  const url = new URL(serverUrl)
  url.pathname = '/postgres'
  const client = new pg.Client({ connectionString: url.toString() })
  await client.connect()
  try {
    return (await client.query<{ datname: string }>(sql)).rows
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
