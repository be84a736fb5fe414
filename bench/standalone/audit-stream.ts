import { spawn } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import os from 'node:os'
import path from 'node:path'
import pg from 'pg'
import { PostgresEventStore } from '../../src/adapters/event-store/postgres.ts'
import { createDb, createPool, ensureDatabase, migrate } from '../../src/adapters/postgres/database.ts'
import { auditLog } from '../../src/ledger/audit.ts'
import type { Projection } from '../../src/subscriptions/projection.ts'
import { ProjectionRunner } from '../../src/subscriptions/projection-runner.ts'

/**
 * Streaming the log to auditors, over BENCH_EVENTS events (100,000 by default). Run:
 * `npm run bench:audit-stream`; writes bench/results/audit-stream.json.
 *
 * - `circle-ledger replay --after 0` as a process, stdout drained: events/s and peak RSS, beside
 *   (a) the same command over a tenth of the log and (b) a process that only pages through the
 *   store (no serialization, no output): the baseline for both memory and events/s.
 * - GET /audit/events with Accept: application/x-ndjson from `src/main.ts --role api`: events/s and
 *   the server's peak RSS, beside a fresh server paging the same log as JSON (limit=1000).
 * - Both again with V8's heap bounded (old space below the size of the output, small young
 *   generation): a process that held the stream could not finish, and its peak RSS no longer
 *   includes the young generation V8 grows under a high allocation rate, so the replay of the whole
 *   log and of a tenth of it can be compared directly.
 */
const root = path.resolve(import.meta.dirname, '../..')
const round = (x: number, digits = 0) => Math.round(x * 10 ** digits) / 10 ** digits

if (process.argv[2] === '--read-only') {
  // Baseline child: page through the store and drop the events.
  const pool = createPool(process.argv[3]!, 2)
  const store = new PostgresEventStore(pool)
  let events = 0
  let heapUsedMax = 0
  let after: string | undefined
  const t0 = performance.now()
  for (;;) {
    const page = await store.readAll({ after, maxCount: 1000 })
    if (page.events.length === 0) break
    events += page.events.length
    after = page.events.at(-1)!.position
    heapUsedMax = Math.max(heapUsedMax, process.memoryUsage().heapUsed)
  }
  const seconds = (performance.now() - t0) / 1000
  await store.close()
  process.stderr.write(`${JSON.stringify({ events, seconds, heapUsedMaxMb: round(heapUsedMax / 2 ** 20, 1) })}\n`)
  process.exit(0)
}

const total = Number(process.env.BENCH_EVENTS ?? 100_000)
const base = new URL(process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/circle_ledger')
const name = `circle_ledger_bench_audit_${process.pid}`
base.pathname = `/${name}`
const url = base.toString()
/** Old space below the size of the output at 100,000 events (64 to 78 MB), above what the service needs to start. */
const CAP_MB = 64
const SEMI_SPACE_MB = 4

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

const heapCap = (mb: number | undefined): Record<string, string> =>
  mb === undefined ? {} : { NODE_OPTIONS: `--max-old-space-size=${mb} --max-semi-space-size=${SEMI_SPACE_MB}` }

interface ChildRun {
  wallSeconds: number
  peakRssMb: number
  lines: number
  outputMb: number
  /** The last JSON line the child wrote to stderr (its own summary). */
  summary: Record<string, number>
}

/** Runs a child under /usr/bin/time (peak RSS), drains and counts its stdout. */
function timeChild(args: string[], heapMb?: number): Promise<ChildRun> {
  return new Promise((resolve, reject) => {
    const started = performance.now()
    const child = spawn('/usr/bin/time', ['-f', '%M', process.execPath, ...args], { cwd: root, env: { PATH: process.env.PATH, DATABASE_URL: url, ...heapCap(heapMb) } })
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
      if (code !== 0) return reject(new Error(`${args.join(' ')} exited ${code}: ${stderr.slice(-2000)}`))
      const [summary, kb] = stderr.trim().split('\n').slice(-2)
      resolve({ wallSeconds: (performance.now() - started) / 1000, peakRssMb: round(Number(kb) / 1024, 1), lines, outputMb: round(bytes / 2 ** 20, 1), summary: JSON.parse(summary!) })
    })
  })
}

async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const port = (server.address() as { port: number }).port
  await new Promise((r) => server.close(r))
  return port
}

const vmHwmMb = async (pid: number) => round(Number(/VmHWM:\s+(\d+)/.exec(await readFile(`/proc/${pid}/status`, 'utf8'))![1]) / 1024, 1)

/** The API alone in its process, so its memory is its own; `work` runs against it, then its peak RSS is read. */
async function withApi<T>(heapMb: number | undefined, work: (apiUrl: string) => Promise<T>): Promise<T & { serverStartRssMb: number; serverPeakRssMb: number }> {
  const port = await freePort()
  const api = spawn(process.execPath, ['src/main.ts', '--role', 'api'], {
    cwd: root,
    env: { PATH: process.env.PATH, DATABASE_URL: url, PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'warn', RATE_LIMIT_MAX: '100000', ...heapCap(heapMb) },
    stdio: ['ignore', 'ignore', 'inherit'],
  })
  const apiUrl = `http://127.0.0.1:${port}`
  for (let i = 0; ; i++) {
    if (await fetch(`${apiUrl}/health`).then((r) => r.ok, () => false)) break
    if (i > 300) throw new Error('the API did not start')
    await new Promise((r) => setTimeout(r, 100))
  }
  try {
    const serverStartRssMb = await vmHwmMb(api.pid!)
    const result = await work(apiUrl)
    return { ...result, serverStartRssMb, serverPeakRssMb: await vmHwmMb(api.pid!) }
  } finally {
    api.kill('SIGTERM')
    await new Promise((r) => api.once('exit', r))
  }
}

const auditor = { authorization: 'Bearer dev-auditor-key' }

async function streamNdjson(apiUrl: string): Promise<{ seconds: number; events: number; outputMb: number }> {
  const t0 = performance.now()
  const res = await fetch(`${apiUrl}/audit/events`, { headers: { ...auditor, accept: 'application/x-ndjson' } })
  if (!res.ok || !res.body) throw new Error(`GET /audit/events answered ${res.status}`)
  let events = 0
  let bytes = 0
  for await (const chunk of res.body) {
    bytes += chunk.length
    for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) events++
  }
  return { seconds: (performance.now() - t0) / 1000, events, outputMb: round(bytes / 2 ** 20, 1) }
}

async function pageJson(apiUrl: string): Promise<{ seconds: number; events: number }> {
  const t0 = performance.now()
  let events = 0
  let next: string | null = null
  do {
    const res = await fetch(`${apiUrl}/audit/events?limit=1000${next ? `&after=${next}` : ''}`, { headers: auditor })
    const body = (await res.json()) as { events: unknown[]; next: string | null }
    events += body.events.length
    next = body.next
  } while (next !== null)
  return { seconds: (performance.now() - t0) / 1000, events }
}

const seedStarted = performance.now()
await seed()
const seedSeconds = (performance.now() - seedStarted) / 1000
const head = (await store.head())!

// The audit log over the whole store, so the streamed events carry their chain links.
const auditStarted = performance.now()
const runner = new ProjectionRunner({ projections: [auditLog as Projection], store, db, name: 'audit-log', batchSize: 1000 })
runner.start()
await runner.caughtUp(head, 900_000)
await runner.stop()
const auditSeconds = (performance.now() - auditStarted) / 1000

const replayArgs = ['src/cli/main.ts', '--json', 'replay', '--after', '0']
const readOnly = await timeChild(['bench/audit-stream.ts', '--read-only', url])
const tenth = await timeChild([...replayArgs, '--until', String(Math.floor(total / 10))])
const full = await timeChild(replayArgs)
const capped = await timeChild(replayArgs, CAP_MB)
const cappedTenth = await timeChild([...replayArgs, '--until', String(Math.floor(total / 10))], CAP_MB)

const ndjson = await withApi(undefined, streamNdjson)
const paged = await withApi(undefined, pageJson)
const ndjsonCapped = await withApi(CAP_MB, streamNdjson)

await store.close()
await db.destroy()
const admin = new URL(base)
admin.pathname = '/postgres'
const client = new pg.Client({ connectionString: admin.toString() })
await client.connect()
await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
await client.end()

const eps = (n: number, s: number) => Math.round(n / s)
const replayRun = (r: ChildRun) => ({
  events: r.lines,
  outputMb: r.outputMb,
  seconds: r.summary.seconds,
  wallSecondsWithStartup: round(r.wallSeconds, 2),
  eventsPerSecond: eps(r.lines, r.summary.seconds!),
  peakRssMb: r.peakRssMb,
})
const report = {
  benchmark: 'audit streaming: replay CLI and GET /audit/events NDJSON',
  at: new Date().toISOString(),
  machine: { cpus: os.cpus().length, loadAverage1m: round(os.loadavg()[0]!, 2), note: 'shared with other engineers while measured' },
  events: total,
  seed: { seconds: round(seedSeconds, 1), eventsPerSecond: eps(total, seedSeconds) },
  auditProjection: { seconds: round(auditSeconds, 1), eventsPerSecond: eps(total, auditSeconds) },
  replay: {
    full: replayRun(full),
    tenth: replayRun(tenth),
    storeReadOnlyBaseline: { events: readOnly.summary.events, seconds: round(readOnly.summary.seconds!, 2), eventsPerSecond: eps(readOnly.summary.events!, readOnly.summary.seconds!), peakRssMb: readOnly.peakRssMb, heapUsedMaxMb: readOnly.summary.heapUsedMaxMb },
    heapBounded: {
      flags: heapCap(CAP_MB).NODE_OPTIONS,
      full: replayRun(capped),
      tenth: replayRun(cappedTenth),
      peakRssRatioFullToTenth: round(capped.peakRssMb / cappedTenth.peakRssMb, 2),
    },
    peakRssRatioToStoreReadOnly: round(full.peakRssMb / readOnly.peakRssMb, 2),
    peakRssRatioFullToTenth: round(full.peakRssMb / tenth.peakRssMb, 2),
    eventsPerSecondRatioToStoreReadOnly: round(eps(full.lines, full.summary.seconds!) / eps(readOnly.summary.events!, readOnly.summary.seconds!), 2),
  },
  httpNdjson: {
    ndjson: { events: ndjson.events, outputMb: ndjson.outputMb, seconds: round(ndjson.seconds, 2), eventsPerSecond: eps(ndjson.events, ndjson.seconds), serverStartRssMb: ndjson.serverStartRssMb, serverPeakRssMb: ndjson.serverPeakRssMb },
    jsonPagesBaseline: { events: paged.events, pageSize: 1000, seconds: round(paged.seconds, 2), eventsPerSecond: eps(paged.events, paged.seconds), serverStartRssMb: paged.serverStartRssMb, serverPeakRssMb: paged.serverPeakRssMb },
    heapBounded: {
      flags: heapCap(CAP_MB).NODE_OPTIONS,
      events: ndjsonCapped.events,
      eventsPerSecond: eps(ndjsonCapped.events, ndjsonCapped.seconds),
      serverStartRssMb: ndjsonCapped.serverStartRssMb,
      serverPeakRssMb: ndjsonCapped.serverPeakRssMb,
      serverPeakRssRatioToStart: round(ndjsonCapped.serverPeakRssMb / ndjsonCapped.serverStartRssMb, 2),
    },
    serverPeakRssRatioToJsonPages: round(ndjson.serverPeakRssMb / paged.serverPeakRssMb, 2),
    eventsPerSecondRatioToJsonPages: round(eps(ndjson.events, ndjson.seconds) / eps(paged.events, paged.seconds), 2),
  },
}
await mkdir(path.join(root, 'bench/results'), { recursive: true })
await writeFile(path.join(root, 'bench/results/audit-stream.json'), JSON.stringify(report, null, 2) + '\n')
console.log(JSON.stringify(report, null, 2))
