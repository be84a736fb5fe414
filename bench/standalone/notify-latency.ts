/**
 * POST /mint -> its `completed` notification received by a JetStream subscriber, with the embedded
 * Circle simulator settling at once, over BENCH_MINTS mints (2,000) sent at a steady BENCH_RATE per
 * second (5; open loop: a slow answer does not delay the next request). Beside it, in the same run,
 * the baseline: POST /mint -> MintCompleted recorded in the event store (the event's recordedAt, set
 * by its append transaction), i.e. the latency the ledger has before the notifier is involved. Writes
 * bench/results/notify-latency.json.
 *
 *   npm run bench:notify            (BENCH_MINTS, BENCH_RATE, DATABASE_URL, NATS_URL to override)
 */
import { randomBytes, randomUUID } from 'node:crypto'
import { mkdir, writeFile } from 'node:fs/promises'
import { setTimeout as sleep } from 'node:timers/promises'
import { DeliverPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream'
import { connect } from '@nats-io/transport-node'
import pg from 'pg'
import pino from 'pino'
import { PostgresEventStore } from '../../src/adapters/event-store/postgres.ts'
import { createPool } from '../../src/adapters/postgres/database.ts'
import { loadConfig } from '../../src/config.ts'
import { startService } from '../../src/service.ts'

const mints = Number(process.env.BENCH_MINTS ?? 2000)
const rate = Number(process.env.BENCH_RATE ?? 5)
const natsUrl = process.env.NATS_URL ?? 'nats://127.0.0.1:4222'
const base = new URL(process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/circle_ledger')
const dbName = `circle_ledger_bench_notify_${process.pid}`
base.pathname = `/${dbName}`
const tag = randomBytes(4).toString('hex')
const streamName = `BENCH${tag}`
const prefix = `bench${tag}.ledger.v1`

const config = loadConfig({
  DATABASE_URL: base.toString(),
  PORT: '0',
  HOST: '127.0.0.1',
  LOG_LEVEL: 'silent',
  NATS_URL: natsUrl,
  NATS_STREAM: streamName,
  NATS_SUBJECT_PREFIX: prefix,
  SIMULATOR_SETTLE_MS: '0',
  CIRCLE_POLL_INTERVAL_MS: '10',
  CIRCLE_RATE_PER_SECOND: '100000',
  RATE_LIMIT_MAX: '1000000',
})
const service = await startService(config, ['api', 'projections', 'process-manager', 'notifier'], pino({ level: 'silent' }))
const api = (path: string, body?: unknown) =>
  fetch(`${service.url}${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { authorization: 'Bearer dev-backend-key', 'content-type': 'application/json', ...(body === undefined ? {} : { 'idempotency-key': randomUUID() }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  })

const walletId = ((await (await api('/wallets', { ownerId: 'bench' })).json()) as { id: string }).id
for (let i = 0; ; i++) {
  const w = (await (await api(`/wallets/${walletId}`)).json()) as { status: string }
  if (w.status === 'active') break
  if (i > 300) throw new Error(`wallet ${walletId} did not become active`)
  await sleep(100)
}

// The subscriber: an ordered consumer on this wallet's completed mints, new messages only.
const nc = await connect({ servers: natsUrl })
const js = jetstream(nc)
const consumer = await js.consumers.get(streamName, { filter_subjects: `${prefix}.mint.completed.${walletId}`, deliver_policy: DeliverPolicy.New })
const received = new Map<string, number>()
let duplicates = 0
const messages = await consumer.consume({ max_messages: 1000 })
const receiving = (async () => {
  for await (const m of messages) {
    const now = Date.now()
    const { id } = m.json<{ id: string }>()
    if (received.has(id)) duplicates++
    else received.set(id, now)
  }
})()

const sent = new Map<string, number>()
const failedPosts: string[] = []
const started = Date.now()
process.stderr.write(`${mints} mints at ${rate}/s (about ${Math.round(mints / rate)} s)\n`)
const posts: Promise<void>[] = []
for (let i = 0; i < mints; i++) {
  const due = started + (i * 1000) / rate
  const wait = due - Date.now()
  if (wait > 0) await sleep(wait)
  posts.push(
    (async () => {
      const t0 = Date.now()
      const res = await api('/mint', { walletId, amount: '1.00' })
      const body = (await res.json()) as { id?: string }
      if (res.status !== 202 || !body.id) failedPosts.push(`${res.status}`)
      else sent.set(body.id, t0)
    })(),
  )
  if (i % 200 === 199) process.stderr.write(`  sent ${i + 1}/${mints}, received ${received.size}\n`)
}
await Promise.all(posts)
const sendSeconds = (Date.now() - started) / 1000
const deadline = Date.now() + 120_000
while (received.size < sent.size && Date.now() < deadline) await sleep(100)
await sleep(1000) // late duplicates, if any, would show here
await messages.close()
await receiving

// Baseline: when each MintCompleted was committed to the event store.
const pool = createPool(base.toString(), 2)
const reader = new PostgresEventStore(pool)
const recorded = new Map<string, number>()
for (let after: string | undefined; ; ) {
  const page = await reader.readAll({ after, maxCount: 5000, filter: { types: ['MintCompleted'] } })
  for (const e of page.events) recorded.set((e.data as { mintId: string }).mintId, Date.parse(e.recordedAt))
  if (page.events.length === 0 || page.checkpoint === after) break
  after = page.checkpoint
}
await reader.close()
await pool.end()

const toNats: number[] = []
const toStore: number[] = []
const storeToNats: number[] = []
for (const [id, t0] of sent) {
  const r = recorded.get(id)
  const n = received.get(id)
  if (r !== undefined) toStore.push(r - t0)
  if (n !== undefined) toNats.push(n - t0)
  if (r !== undefined && n !== undefined) storeToNats.push(n - r)
}
const stats = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b)
  const at = (p: number) => s[Math.min(s.length - 1, Math.floor(s.length * p))] ?? null
  return { count: s.length, p50ms: at(0.5), p99ms: at(0.99), maxms: s.at(-1) ?? null }
}
const lost = [...sent.keys()].filter((id) => !received.has(id)).length
const notified = stats(toNats)
const baseline = stats(toStore)
const report = {
  benchmark: 'POST /mint -> completed notification received from JetStream (simulator settling at once)',
  at: new Date().toISOString(),
  note: 'measured on a shared 2-core machine while other engineers ran their suites; absolute figures are noisy, compare the ratio',
  mints,
  ratePerSecond: rate,
  sendSeconds: Math.round(sendSeconds * 10) / 10,
  postFailures: failedPosts.length,
  postToNotification: notified,
  baselinePostToMintCompletedRecorded: baseline,
  recordedToNotification: stats(storeToNats),
  ratioP50: notified.p50ms !== null && baseline.p50ms ? Math.round((notified.p50ms / baseline.p50ms) * 100) / 100 : null,
  ratioP99: notified.p99ms !== null && baseline.p99ms ? Math.round((notified.p99ms / baseline.p99ms) * 100) / 100 : null,
  lost,
  duplicatesReceived: duplicates,
}

const jsm = await jetstreamManager(nc)
await jsm.streams.delete(streamName).catch(() => undefined)
await nc.close()
await service.stop()
const admin = new URL(base)
admin.pathname = '/postgres'
const adminClient = new pg.Client({ connectionString: admin.toString() })
await adminClient.connect()
await adminClient.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`)
await adminClient.end()

await mkdir(new URL('../results/', import.meta.url), { recursive: true })
await writeFile(new URL('../results/notify-latency.json', import.meta.url), JSON.stringify(report, null, 2) + '\n')
console.log(JSON.stringify(report, null, 2))
if (lost > 0 || failedPosts.length > 0) process.exitCode = 1
