import { spawn } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { readFile, mkdir, writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import os from 'node:os'
import path from 'node:path'
import pg from 'pg'
import { PostgresEventStore } from '../src/adapters/event-store/postgres.ts'
import { createDb, createPool, ensureDatabase, migrate } from '../src/adapters/postgres/database.ts'
import { auditLog } from '../src/ledger/audit.ts'
import type { Projection } from '../src/subscriptions/projection.ts'
import { ProjectionRunner } from '../src/subscriptions/projection-runner.ts'

/**
 * Streaming the log to auditors, measured over BENCH_EVENTS events (100,000 by default):
 * - `circle-ledger replay --after 0` as a process (stdout to a pipe that is drained): events/s and
 *   peak RSS, beside the same command over a tenth of the log (flat memory: the ratio stays near 1)
 *   and beside the store's own paged read in this process (the ceiling for events/s);
 * - GET /audit/events with Accept: application/x-ndjson from `npm start --role api`: events/s and the
 *   server's peak RSS, beside its RSS after a small warm-up stream, and beside paging the same log
 *   as JSON (limit=1000).
 * Both are run again with V8's old space capped below the size of the output: a process that held
 * the stream could not finish (RSS growth above is mostly garbage V8 has not collected yet).
 * Writes bench/results/audit-stream.json. Run: npm exec -- node bench/audit-stream.ts
 */
const root = path.resolve(import.meta.dirname, '..')
const total = Number(process.env.BENCH_EVENTS ?? 100_000)
const base = new URL(process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/circle_ledger')
const name = `circle_ledger_bench_audit_${process.pid}`
base.pathname = `/${name}`
const url = base.toString()

await ensureDatabase(url)
const pool = createPool(url, 10)
const db = createDb(pool)
await migrate(db)
const store = new PostgresEventStore(pool)

/** Events shaped like the service's: a mint's request with the metadata every command writes. */
async function seed(): Promise<void> {
  const perAppend = 500
  for (let written = 0; written < total; written += perAppend) {
    const count = Math.min(perAppend, total - written)
    const streams = Array.from({ length: count / 5 }, () => `mint-${randomUUID()}`)
    await store.appendMulti(
      streams.map((stream) => ({
        stream,
        expected: 'no_stream' as const,
        events: Array.from({ length: 5 }, (_, i) => ({
          id: randomUUID(),
          type: i === 0 ? 'MintRequested' : 'MintSubmitted',
          data: { mintId: stream.slice(5), walletId: randomUUID(), amount: String(1_000_000 + i), circleTransferId: randomUUID() },
          metadata: { correlationId: stream.slice(5), causationId: randomUUID(), actor: 'bench-backend', requestId: randomUUID(), idempotencyKey: randomUUID(), occurredAt: new Date().toISOString() },
        })),
      })),
    )
  }
}

const round = (x: number, digits = 0) => Math.round(x * 10 ** digits) / 10 ** digits

/** Peak RSS and wall time (process start-up included) of a CLI run whose stdout is drained and counted; `streamSeconds` is the command's own timing, from connecting to the last event written. */
function timeCli(args: string[], heapMb?: number): Promise<{ seconds: number; streamSeconds: number; peakRssMb: number; lines: number; mb: number }> {
  return new Promise((resolve, reject) => {
    const started = performance.now()
    const child = spawn('/usr/bin/time', ['-f', '%M', process.execPath, 'src/cli/main.ts', '--json', ...args], {
      cwd: root,
      env: { PATH: process.env.PATH, DATABASE_URL: url, ...heapCap(heapMb) },
    })
    let lines = 0
    let bytes = 0
    let stderr = ''
    child.stdout.on('data', (chunk: Buffer) => {
      bytes += chunk.length
      for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) lines++
    })
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d))
    child.on('error', reject)
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`replay exited ${code}: ${stderr}`))
      const [summary, kb] = stderr.trim().split('\n').slice(-2)
      const own = JSON.parse(summary!) as { seconds: number }
      resolve({ seconds: (performance.now() - started) / 1000, streamSeconds: own.seconds, peakRssMb: round(Number(kb) / 1024, 1), lines, mb: round(bytes / 2 ** 20, 1) })
    })
  })
}

/** A V8 old-space cap smaller than the output: a process that held the stream would run out of heap. */
const CAP_MB = 48
const heapCap = (mb: number | undefined): Record<string, string> => (mb === undefined ? {} : { NODE_OPTIONS: `--max-old-space-size=${mb}` })

async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const port = (server.address() as { port: number }).port
  await new Promise((r) => server.close(r))
  return port
}

const vmHwmMb = async (pid: number) => round(Number(/VmHWM:\s+(\d+)/.exec(await readFile(`/proc/${pid}/status`, 'utf8'))![1]) / 1024, 1)

const started = performance.now()
await seed()
const seedSeconds = (performance.now() - started) / 1000
const head = (await store.head())!

// The audit log over the whole store, so the streamed events carry their chain links.
const auditStarted = performance.now()
const runner = new ProjectionRunner({ projections: [auditLog as Projection], store, db, name: 'audit-log', batchSize: 1000 })
runner.start()
await runner.caughtUp(head, 600_000)
await runner.stop()
const auditSeconds = (performance.now() - auditStarted) / 1000

// Ceiling: the store's own paged read, no serialization, no process boundary.
let read = 0
let after: string | undefined
const readStarted = performance.now()
for (;;) {
  const page = await store.readAll({ after, maxCount: 1000 })
  if (page.events.length === 0) break
  read += page.events.length
  after = page.events.at(-1)!.position
}
const readSeconds = (performance.now() - readStarted) / 1000

const tenth = String(Math.floor(total / 10))
const small = await timeCli(['replay', '--after', '0', '--until', tenth])
const full = await timeCli(['replay', '--after', '0'])
const capped = await timeCli(['replay', '--after', '0'], CAP_MB)

// The API as it runs in production, alone in its process, so its memory is its own.
async function measureApi(heapMb?: number) {
  const port = await freePort()
  const api = spawn(process.execPath, ['src/main.ts', '--role', 'api'], {
    cwd: root,
    env: { PATH: process.env.PATH, DATABASE_URL: url, PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'warn', RATE_LIMIT_MAX: '100000', ...heapCap(heapMb) },
    stdio: ['ignore', 'ignore', 'inherit'],
  })
  const apiUrl = `http://127.0.0.1:${port}`
  for (let i = 0; ; i++) {
    const up = await fetch(`${apiUrl}/health`).then((r) => r.ok, () => false)
    if (up) break
    if (i > 300) throw new Error('the API did not start')
    await new Promise((r) => setTimeout(r, 100))
  }
  const headers = { authorization: 'Bearer dev-auditor-key' }

  async function streamNdjson(limit?: number): Promise<{ seconds: number; lines: number; mb: number }> {
    const t0 = performance.now()
    const res = await fetch(`${apiUrl}/audit/events${limit ? `?limit=${limit}` : ''}`, { headers: { ...headers, accept: 'application/x-ndjson' } })
    if (!res.ok || !res.body) throw new Error(`GET /audit/events answered ${res.status}`)
    let lines = 0
    let bytes = 0
    for await (const chunk of res.body) {
      bytes += chunk.length
      for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) lines++
    }
    return { seconds: (performance.now() - t0) / 1000, lines, mb: round(bytes / 2 ** 20, 1) }
  }

  const warm = await streamNdjson(Number(tenth))
  const warmRss = await vmHwmMb(api.pid!)
  const ndjson = await streamNdjson()
  const ndjsonRss = await vmHwmMb(api.pid!)

  let paged = 0
  let next: string | null = null
  const pagedStarted = performance.now()
  if (heapMb === undefined) {
    do {
      const res = await fetch(`${apiUrl}/audit/events?limit=1000${next ? `&after=${next}` : ''}`, { headers })
      const body = (await res.json()) as { events: unknown[]; next: string | null }
      paged += body.events.length
      next = body.next
    } while (next !== null)
  }
  const pagedSeconds = (performance.now() - pagedStarted) / 1000
  api.kill('SIGTERM')
  await new Promise((r) => api.once('exit', r))
  return { warm, warmRss, ndjson, ndjsonRss, paged, pagedSeconds }
}

const http = await measureApi()
const httpCapped = await measureApi(CAP_MB)

await store.close()
await db.destroy()
const admin = new URL(base)
admin.pathname = '/postgres'
const client = new pg.Client({ connectionString: admin.toString() })
await client.connect()
await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
await client.end()

const eps = (n: number, s: number) => Math.round(n / s)
const report = {
  benchmark: 'audit streaming: replay CLI and GET /audit/events NDJSON',
  at: new Date().toISOString(),
  machine: { cpus: os.cpus().length, loadAverage1m: round(os.loadavg()[0]!, 2), note: 'shared with other engineers while measured' },
  events: total,
  seed: { seconds: round(seedSeconds, 1), eventsPerSecond: eps(total, seedSeconds) },
  auditProjection: { seconds: round(auditSeconds, 1), eventsPerSecond: eps(total, auditSeconds) },
  replay: {
    full: { events: full.lines, wallSeconds: round(full.seconds, 2), streamSeconds: full.streamSeconds, eventsPerSecond: eps(full.lines, full.streamSeconds), peakRssMb: full.peakRssMb },
    tenthBaseline: { events: small.lines, wallSeconds: round(small.seconds, 2), streamSeconds: small.streamSeconds, eventsPerSecond: eps(small.lines, small.streamSeconds), peakRssMb: small.peakRssMb },
    storeReadCeiling: { events: read, seconds: round(readSeconds, 2), eventsPerSecond: eps(read, readSeconds) },
    heapCapped: { oldSpaceCapMb: CAP_MB, events: capped.lines, outputMb: capped.mb, eventsPerSecond: eps(capped.lines, capped.streamSeconds), peakRssMb: capped.peakRssMb },
    outputMb: full.mb,
    peakRssRatioFullToTenth: round(full.peakRssMb / small.peakRssMb, 2),
    eventsPerSecondRatioToStoreRead: round(eps(full.lines, full.streamSeconds) / eps(read, readSeconds), 2),
  },
  httpNdjson: {
    full: { events: http.ndjson.lines, outputMb: http.ndjson.mb, seconds: round(http.ndjson.seconds, 2), eventsPerSecond: eps(http.ndjson.lines, http.ndjson.seconds), serverPeakRssMb: http.ndjsonRss },
    warmupBaseline: { events: http.warm.lines, serverPeakRssMb: http.warmRss },
    jsonPagesBaseline: { events: http.paged, pageSize: 1000, seconds: round(http.pagedSeconds, 2), eventsPerSecond: eps(http.paged, http.pagedSeconds) },
    heapCapped: { oldSpaceCapMb: CAP_MB, events: httpCapped.ndjson.lines, eventsPerSecond: eps(httpCapped.ndjson.lines, httpCapped.ndjson.seconds), serverPeakRssMb: httpCapped.ndjsonRss, serverWarmupRssMb: httpCapped.warmRss },
    serverPeakRssRatioFullToWarmup: round(http.ndjsonRss / http.warmRss, 2),
    eventsPerSecondRatioToJsonPages: round(eps(http.ndjson.lines, http.ndjson.seconds) / eps(http.paged, http.pagedSeconds), 2),
  },
}
await mkdir(path.join(root, 'bench/results'), { recursive: true })
await writeFile(path.join(root, 'bench/results/audit-stream.json'), JSON.stringify(report, null, 2) + '\n')
console.log(JSON.stringify(report, null, 2))
