import { randomUUID } from 'node:crypto'
import { mkdir, writeFile } from 'node:fs/promises'
import { cpus, loadavg } from 'node:os'
import pg from 'pg'
import pino from 'pino'
import { PostgresEventStore } from '../../src/adapters/event-store/postgres.ts'
import { createDb, createPool, ensureDatabase, migrate } from '../../src/adapters/postgres/database.ts'
import { progressBar } from '../../src/cli/progress.ts'
import { loadConfig } from '../../src/config.ts'
import { buildApp } from '../../src/http/app.ts'
import { developmentApiKeys } from '../../src/http/plugins/auth.ts'
import { Metrics } from '../../src/metrics.ts'
import { startService } from '../../src/service.ts'
import { WebhookVerifier } from '../../src/webhooks/verify.ts'
import { SnsCertificates } from '../../src/webhooks/sns.ts'
import { WebhookWorker } from '../../src/webhooks/worker.ts'
import { Worker } from 'node:worker_threads'
import { circleKey } from '../../test/helpers/webhooks.ts'

/**
 * Two figures, each beside its baseline in the same run:
 * 1. POST /mint -> MintCompleted recorded, p50/p99 over MINTS mints, the embedded simulator settling
 *    at once: webhooks on (v2 to our /webhook) vs polling only (CIRCLE_POLL_INTERVAL_MS at its
 *    default). Completion time is the MintCompleted event's occurredAt, stamped by the service.
 * 2. /webhook answer time (client round trip) while the worker is saturated (a flood of
 *    notifications it must retry) vs with the worker stopped.
 */
const MINTS = Number(process.env.BENCH_MINTS ?? 500)
const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 4)
const FLOOD = Number(process.env.BENCH_WEBHOOKS ?? 2000)
const SENDERS = Number(process.env.BENCH_WEBHOOK_SENDERS ?? 4)
const DELAY_MS = 1000
const DELAYED_MINTS = Number(process.env.BENCH_DELAYED_MINTS ?? 100)
const DELAYED_CLIENTS = Number(process.env.BENCH_DELAYED_CLIENTS ?? 20)
const silent = pino({ level: 'silent' })

/** Signs and posts v2 notifications for completed transfers no operation knows (the worker must retry each). */
const SENDER = `
const { workerData, parentPort } = require('node:worker_threads')
const { sign, randomUUID } = require('node:crypto')
const { url, keyId, privateKey, total, senders } = workerData
let sent = 0
const latencies = []
async function sender() {
  while (sent < total) {
    sent++
    const body = JSON.stringify({ subscriptionId: randomUUID(), notificationId: randomUUID(), notificationType: 'transfers', version: 2, timestamp: new Date().toISOString(),
      notification: { id: randomUUID(), status: 'complete', source: { type: 'wallet', id: '1' }, amount: { amount: '1.00', currency: 'USD' } } })
    const headers = { 'content-type': 'application/json', 'x-circle-key-id': keyId, 'x-circle-signature': sign('sha256', Buffer.from(body), privateKey).toString('base64') }
    const t0 = performance.now()
    const res = await fetch(url, { method: 'POST', body, headers })
    await res.arrayBuffer()
    latencies.push(performance.now() - t0)
    if (res.status !== 200) throw new Error('webhook answered ' + res.status)
    if (latencies.length % 50 === 0) parentPort.postMessage({ done: latencies.length })
  }
}
Promise.all(Array.from({ length: senders }, sender)).then(() => parentPort.postMessage({ latencies }), (err) => parentPort.postMessage({ error: String(err) }))
`

const pct = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b)
  return Math.round(sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]! * 10) / 10
}
const summary = (values: number[]) => ({ n: values.length, p50ms: pct(values, 0.5), p99ms: pct(values, 0.99), maxMs: pct(values, 1) })

function databaseUrl(tag: string) {
  const url = new URL(process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/circle_ledger')
  url.pathname = `/circle_ledger_bench_${tag}_${process.pid}`
  return url
}

async function dropDatabase(url: URL) {
  const admin = new URL(url)
  admin.pathname = '/postgres'
  const client = new pg.Client({ connectionString: admin.toString() })
  await client.connect()
  await client.query(`DROP DATABASE IF EXISTS ${url.pathname.slice(1)} WITH (FORCE)`)
  await client.end()
}

async function mintLifecycle(mode: 'webhooks' | 'polling', settleMs: number, mints: number, clients: number) {
  const url = databaseUrl(`${mode}_${settleMs}`)
  const config = loadConfig({
    ...process.env,
    DATABASE_URL: url.toString(),
    PORT: '0',
    HOST: '127.0.0.1',
    LOG_LEVEL: 'silent',
    SIMULATOR_SETTLE_MS: String(settleMs),
    SIMULATOR_WEBHOOKS: mode === 'webhooks' ? 'v2' : 'none',
    // The simulator is local: the client-side limit meant for Circle would only measure its queue.
    CIRCLE_RATE_PER_SECOND: '2000',
    RATE_LIMIT_MAX: '1000000',
    CIRCLE_API_KEY: '',
  })
  const service = await startService(config, ['api', 'projections', 'process-manager', 'webhook-worker'], silent)
  const pool = new pg.Pool({ connectionString: url.toString(), max: 4 })
  pool.on('error', () => undefined)
  const store = new PostgresEventStore(pool)
  const headers = { authorization: 'Bearer dev-backend-key', 'content-type': 'application/json' }
  try {
    const post = async (path: string, body: object) => {
      const res = await fetch(`${service.url}${path}`, { method: 'POST', headers: { ...headers, 'idempotency-key': randomUUID() }, body: JSON.stringify(body) })
      if (res.status !== 202) throw new Error(`${path}: ${res.status} ${await res.text()}`)
      return (await res.json()) as { id: string }
    }
    const wallets = await Promise.all(Array.from({ length: clients }, (_, i) => post('/wallets', { ownerId: `bench-${i}` })))
    for (const w of wallets) {
      for (;;) {
        const body = (await (await fetch(`${service.url}/wallets/${w.id}`, { headers })).json()) as { status: string }
        if (body.status === 'active') break
        await new Promise((r) => setTimeout(r, 20))
      }
    }
    const latencies: number[] = []
    const stages: Record<string, number[]> = { requestedToSubmitted: [], submittedToCompleted: [] }
    const completedBy: Record<string, number> = {}
    const bar = progressBar(`mints (${mode}, settling after ${settleMs} ms)`)
    let started = 0
    await Promise.all(
      wallets.map(async (w) => {
        while (started < mints) {
          started++
          const t0 = Date.now()
          const { id } = await post('/mint', { walletId: w.id, amount: '1.00' })
          for (;;) {
            const events = await store.readStream(`mint-${id}`)
            const done = events.find((e) => e.type === 'MintCompleted' || e.type === 'MintFailed')
            if (done) {
              if (done.type !== 'MintCompleted') throw new Error(`mint ${id} failed`)
              const at = (type: string) => Date.parse(events.find((e) => e.type === type)?.metadata.occurredAt ?? done.metadata.occurredAt)
              latencies.push(at('MintCompleted') - t0)
              stages.requestedToSubmitted!.push(at('MintSubmitted') - at('MintRequested'))
              stages.submittedToCompleted!.push(at('MintCompleted') - at('MintSubmitted'))
              completedBy[done.metadata.actor] = (completedBy[done.metadata.actor] ?? 0) + 1
              break
            }
            await new Promise((r) => setTimeout(r, 5))
          }
          bar.update(latencies.length, mints, {})
        }
      }),
    )
    bar.stop()
    return { ...summary(latencies), stages: { requestedToSubmitted: summary(stages.requestedToSubmitted!), submittedToCompleted: summary(stages.submittedToCompleted!) }, completedBy }
  } finally {
    await store.close()
    await pool.end()
    await service.stop()
    await dropDatabase(url)
  }
}

async function webhookRoute() {
  const url = databaseUrl('route')
  await ensureDatabase(url.toString())
  const pool = createPool(url.toString(), 20)
  const db = createDb(pool)
  await migrate(db)
  const store = new PostgresEventStore(pool)
  const key = circleKey()
  const publicKey = (await import('../../src/webhooks/public-keys.ts')).parseCirclePublicKey(key.publicKeyBase64)
  const metrics = new Metrics()
  const worker = new WebhookWorker({
    store,
    db,
    pool,
    issuer: { get: async () => Promise.reject(new Error('no issuer in this benchmark')) },
    masterWalletId: async () => '1000000001',
    logger: silent,
    maxAttempts: 1000,
    retry: { baseMs: 1, maxMs: 5 },
    tickMs: 5,
    leaseRetryMs: 100,
  })
  const app = await buildApp({
    logger: silent,
    health: {},
    store,
    db,
    readModels: async () => undefined,
    issuer: { issue: () => Promise.reject(new Error('unused')), freeze: () => Promise.reject(new Error('unused')), unfreeze: () => Promise.reject(new Error('unused')), close: () => Promise.reject(new Error('unused')), get: () => Promise.reject(new Error('unused')) } as never,
    metrics,
    circle: { createWireAccount: async () => Promise.reject(new Error('unused')) },
    apiKeys: developmentApiKeys(),
    maxAmount: 10n ** 12n,
    idempotencyTtlHours: 24,
    rateLimit: { max: 1_000_000, windowMs: 60_000 },
    webhooks: {
      // The key as the verifier's cache holds it after the first fetch from Circle.
      verifier: new WebhookVerifier({ publicKeys: { get: async (id) => (id === key.id ? publicKey : undefined) }, certificates: new SnsCertificates(), snsTopicArns: [] }),
      rateLimit: { max: 1_000_000, windowMs: 60_000 },
      onStored: () => worker.notify(),
    },
  })
  const address = await app.listen({ port: 0, host: '127.0.0.1' })
  /** Server-side: share of /webhook answers the service itself timed within 50 ms (its latency histogram). */
  const serverShareWithin50ms = async () => {
    const metric = (await metrics.registry.getSingleMetricAsString('http_request_duration_seconds')).split('\n')
    const value = (le: string) => metric.filter((l) => l.includes('route="/webhook"') && l.includes(`le="${le}"`)).reduce((n, l) => n + Number(l.split(' ').pop()), 0)
    return { within50ms: value('0.05'), total: value('+Inf') }
  }
  /**
   * The senders run in a worker thread, so their own work does not sit on the event loop of the
   * service (and its saturated webhook worker) being measured.
   */
  const flood = async (label: string) => {
    const bar = progressBar(`webhooks (${label})`)
    const thread = new Worker(SENDER, {
      eval: true,
      workerData: { url: `${address}/webhook`, keyId: key.id, privateKey: key.privateKey.export({ format: 'pem', type: 'pkcs8' }), total: FLOOD, senders: SENDERS },
    })
    const latencies = await new Promise<number[]>((resolve, reject) => {
      thread.on('message', (m: { done?: number; latencies?: number[]; error?: string }) => {
        if (m.error) reject(new Error(m.error))
        else if (m.latencies) resolve(m.latencies)
        else bar.update(m.done!, FLOOD, {})
      })
      thread.on('error', reject)
    })
    bar.stop()
    await thread.terminate()
    return summary(latencies)
  }
  try {
    const idle = { ...(await flood('worker stopped')), server: await serverShareWithin50ms() }
    await db.deleteFrom('webhook_inbox').execute()
    worker.start()
    const before = await serverShareWithin50ms()
    const flooded = await flood('worker saturated')
    const after = await serverShareWithin50ms()
    const saturated = { ...flooded, server: { within50ms: after.within50ms - before.within50ms, total: after.total - before.total } }
    const backlog = await db.selectFrom('webhook_inbox').select((eb) => eb.fn.countAll<string>().as('n')).where('status', '=', 'pending').executeTakeFirstOrThrow()
    const attempts = await db.selectFrom('webhook_inbox').select((eb) => eb.fn.sum<string>('attempts').as('n')).executeTakeFirstOrThrow()
    return { workerStopped: idle, workerSaturated: saturated, ratio: Math.round((saturated.p99ms / idle.p99ms) * 100) / 100, backlogAtEnd: Number(backlog.n), workerAttemptsDuringFlood: Number(attempts.n ?? 0) }
  } finally {
    await worker.stop()
    await app.close()
    await store.close()
    await db.destroy()
    await dropDatabase(url)
  }
}

const webhooks = await mintLifecycle('webhooks', 0, MINTS, CLIENTS)
const polling = await mintLifecycle('polling', 0, MINTS, CLIENTS)
// Circle taking a moment to settle: the process manager's look right after submitting finds the
// transfer pending, so polling waits for its next round while a webhook completes the mint.
const delayedWebhooks = await mintLifecycle('webhooks', DELAY_MS, DELAYED_MINTS, DELAYED_CLIENTS)
const delayedPolling = await mintLifecycle('polling', DELAY_MS, DELAYED_MINTS, DELAYED_CLIENTS)
const route = await webhookRoute()
const report = {
  benchmark: 'mint lifecycle (POST /mint -> MintCompleted) with webhooks vs polling only; /webhook answer time under a saturated worker',
  at: new Date().toISOString(),
  machine: { cpus: cpus().length, loadavg: loadavg().map((l) => Math.round(l * 100) / 100), note: 'shared with other engineers while measured; compare ratios within this run, not absolute numbers across runs' },
  settings: { mints: MINTS, clients: CLIENTS, pollIntervalMs: loadConfig({}).CIRCLE_POLL_INTERVAL_MS, webhookFlood: FLOOD, webhookSenders: SENDERS },
  mintLifecycle: {
    settlingAtOnce: { webhooks, pollingOnly: polling, p99Ratio: Math.round((webhooks.p99ms / polling.p99ms) * 100) / 100, targetP99Ms: 300, webhooksMeetTarget: webhooks.p99ms < 300 },
    [`settlingAfter${DELAY_MS}ms`]: { mints: DELAYED_MINTS, clients: DELAYED_CLIENTS, webhooks: delayedWebhooks, pollingOnly: delayedPolling, p99Ratio: Math.round((delayedWebhooks.p99ms / delayedPolling.p99ms) * 100) / 100 },
  },
  webhookRoute: { ...route, targetP99Ms: 50, meetsTarget: route.workerSaturated.p99ms < 50 },
}
await mkdir(new URL('../results/', import.meta.url), { recursive: true })
await writeFile(new URL('../results/lifecycle.json', import.meta.url), JSON.stringify(report, null, 2) + '\n')
console.log(JSON.stringify(report, null, 2))
