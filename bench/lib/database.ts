import { randomBytes } from 'node:crypto'
import pg from 'pg'

/** A throw-away database beside the given server's, for one benchmark subject. */
export async function createBenchDatabase(serverUrl: string, prefix: string): Promise<{ url: string; name: string; drop: () => Promise<void> }> {
  const name = `bench_${prefix}_${process.pid}_${randomBytes(3).toString('hex')}`
  const url = new URL(serverUrl)
  url.pathname = `/${name}`
  await admin(serverUrl, `CREATE DATABASE ${pg.escapeIdentifier(name)}`)
  return { url: url.toString(), name, drop: () => admin(serverUrl, `DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)} WITH (FORCE)`) }
}

async function admin(serverUrl: string, sql: string): Promise<void> {
  const url = new URL(serverUrl)
  url.pathname = '/postgres'
  const client = new pg.Client({ connectionString: url.toString() })
  await client.connect()
  try {
    await client.query(sql)
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
