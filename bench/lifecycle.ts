import { randomUUID } from 'node:crypto'
import { Writable } from 'node:stream'
import { Worker } from 'node:worker_threads'
import pg from 'pg'
import pino from 'pino'
import { PostgresEventStore } from '../src/adapters/event-store/postgres.ts'
import { createDb, createPool, migrate } from '../src/adapters/postgres/database.ts'
import { progressBar } from '../src/cli/progress.ts'
import { loadConfig } from '../src/config.ts'
import { buildApp } from '../src/http/app.ts'
import { developmentApiKeys } from '../src/http/plugins/auth.ts'
import { Metrics } from '../src/metrics.ts'
import { startService } from '../src/service.ts'
import { parseCirclePublicKey } from '../src/webhooks/public-keys.ts'
import { SnsCertificates } from '../src/webhooks/sns.ts'
import { WebhookVerifier } from '../src/webhooks/verify.ts'
import { WebhookWorker } from '../src/webhooks/worker.ts'
import { circleKey } from '../test/helpers/webhooks.ts'
import { createBenchDatabase } from './lib/database.ts'
import { percentiles, ratios, round, type BenchOptions, type Check, type Measurement, type Scenario, type Target } from './lib/report.ts'

export const title = 'POST /mint -> MintCompleted with webhooks against polling only; /webhook answer time with its worker saturated against stopped'

/**
 * `npm run bench -- lifecycle` (or `npm run bench:lifecycle`). Two figures, each beside its baseline in the same run:
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

const summary = (values: number[]) => ({ n: values.length, ...percentiles(values), maxMs: round(Math.max(0, ...values), 1) })

/** Progress bars on stderr, or nowhere in tiny mode (the test suite's output stays clean). */
let progressStream: NodeJS.WritableStream = process.stderr

async function mintLifecycle(serverUrl: string, mode: 'webhooks' | 'polling', settleMs: number, mints: number, clients: number) {
  const database = await createBenchDatabase(serverUrl, `mint_${mode}`)
  const url = database.url
  const config = loadConfig({
    ...process.env,
    DATABASE_URL: url,
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
  const pool = new pg.Pool({ connectionString: url, max: 4 })
  pool.on('error', () => undefined)
  const store = new PostgresEventStore(pool)
  const headers = { authorization: 'Bearer dev-backend-key', 'content-type': 'application/json' }
  try {
    const post = async (path: string, body: object) => {
      const res = await fetch(`${service.url}${path}`, { method: 'POST', headers: { ...headers, 'idempotency-key': randomUUID() }, body: JSON.stringify(body) })
      if (res.status !== 201 && res.status !== 202) throw new Error(`${path}: ${res.status} ${await res.text()}`)
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
    const bar = progressBar(`mints (${mode}, settling after ${settleMs} ms)`, progressStream)
    let started = 0
    const began = performance.now()
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
    const seconds = (performance.now() - began) / 1000
    return { latencies, seconds, ...summary(latencies), stages: { requestedToSubmitted: summary(stages.requestedToSubmitted!), submittedToCompleted: summary(stages.submittedToCompleted!) }, completedBy }
  } finally {
    await store.close()
    await pool.end()
    await service.stop()
    await database.drop()
  }
}

async function webhookRoute(serverUrl: string, notifications: number) {
  const database = await createBenchDatabase(serverUrl, 'webhook_route')
  const pool = createPool(database.url, 20)
  const db = createDb(pool)
  await migrate(db)
  const store = new PostgresEventStore(pool)
  const key = circleKey()
  const publicKey = parseCirclePublicKey(key.publicKeyBase64)
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
    const bar = progressBar(`webhooks (${label})`, progressStream)
    const began = performance.now()
    const thread = new Worker(SENDER, {
      eval: true,
      workerData: { url: `${address}/webhook`, keyId: key.id, privateKey: key.privateKey.export({ format: 'pem', type: 'pkcs8' }), total: notifications, senders: SENDERS },
    })
    const latencies = await new Promise<number[]>((resolve, reject) => {
      thread.on('message', (m: { done?: number; latencies?: number[]; error?: string }) => {
        if (m.error) reject(new Error(m.error))
        else if (m.latencies) resolve(m.latencies)
        else bar.update(m.done!, notifications, {})
      })
      thread.on('error', reject)
    })
    bar.stop()
    await thread.terminate()
    return { latencies, seconds: (performance.now() - began) / 1000, ...summary(latencies) }
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
    return { workerStopped: idle, workerSaturated: saturated, backlogAtEnd: Number(backlog.n), workerAttemptsDuringFlood: Number(attempts.n ?? 0) }
  } finally {
    await worker.stop()
    await app.close()
    await store.close()
    await db.destroy()
    await database.drop()
  }
}

export async function run(options: BenchOptions) {
  const tiny = options.tiny
  progressStream = tiny ? new Writable({ write: (_chunk, _encoding, done) => done() }) : process.stderr
  const mints = tiny ? 6 : MINTS
  const delayedMints = tiny ? 2 : DELAYED_MINTS
  const flood = tiny ? 100 : FLOOD
  const server = options.databaseUrl
  options.log(`lifecycle: ${mints} mints settling at once, webhooks on`)
  const webhooks = await mintLifecycle(server, 'webhooks', 0, mints, tiny ? 2 : CLIENTS)
  options.log(`lifecycle: ${mints} mints settling at once, polling only`)
  const polling = await mintLifecycle(server, 'polling', 0, mints, tiny ? 2 : CLIENTS)
  // Circle taking a moment to settle: the process manager's look right after submitting finds the
  // transfer pending, so polling waits for its next round while a webhook completes the mint.
  options.log(`lifecycle: ${delayedMints} mints settling after ${DELAY_MS} ms, webhooks on, then polling only`)
  const delayedWebhooks = await mintLifecycle(server, 'webhooks', DELAY_MS, delayedMints, tiny ? 2 : DELAYED_CLIENTS)
  const delayedPolling = await mintLifecycle(server, 'polling', DELAY_MS, delayedMints, tiny ? 2 : DELAYED_CLIENTS)
  options.log(`lifecycle: /webhook under ${flood} notifications, worker stopped, then saturated`)
  const route = await webhookRoute(server, flood)

  const measurement = (subject: string, r: { latencies: number[]; seconds: number; p50Ms: number; p99Ms: number }, extra: Measurement['extra']): Measurement => ({
    subject,
    rate: round(r.latencies.length / r.seconds, 1),
    operations: r.latencies.length,
    seconds: round(r.seconds, 2),
    p50Ms: r.p50Ms,
    p99Ms: r.p99Ms,
    extra,
  })
  const mintMeasurement = (subject: string, r: Awaited<ReturnType<typeof mintLifecycle>>): Measurement =>
    measurement(subject, r, { maxMs: r.maxMs, stages: r.stages, completedBy: r.completedBy })
  const routeMeasurement = (subject: string, r: typeof route.workerStopped): Measurement => measurement(subject, r, { maxMs: r.maxMs, server: r.server })
  const pollIntervalMs = loadConfig({}).CIRCLE_POLL_INTERVAL_MS
  const pair = (name: string, parameters: Scenario['parameters'], a: Measurement, b: Measurement): Scenario => ({
    name,
    parameters,
    measurements: [a, b],
    ratios: ratios([a, b], [[a.subject, b.subject]]),
  })
  const scenarios: Scenario[] = [
    pair('mints settling at once', { mints, pollIntervalMs }, mintMeasurement('webhooks', webhooks), mintMeasurement('polling-only', polling)),
    pair(`mints settling after ${DELAY_MS} ms`, { mints: delayedMints, pollIntervalMs }, mintMeasurement('webhooks', delayedWebhooks), mintMeasurement('polling-only', delayedPolling)),
    pair('/webhook answers', { notifications: flood, senders: SENDERS }, routeMeasurement('worker-saturated', route.workerSaturated), routeMeasurement('worker-stopped', route.workerStopped)),
  ]
  const targets: Target[] = [
    { description: `POST /mint -> completed p99 < 300 ms with webhooks (${webhooks.p99Ms} ms; polling only ${polling.p99Ms} ms)`, met: webhooks.p99Ms < 300 },
    { description: `/webhook p99 < 50 ms while its worker is saturated (${route.workerSaturated.p99Ms} ms; worker stopped ${route.workerStopped.p99Ms} ms)`, met: route.workerSaturated.p99Ms < 50 },
  ]
  const checks: Check[] = [
    ...[
      ['settling at once, webhooks', webhooks, mints],
      ['settling at once, polling only', polling, mints],
      [`settling after ${DELAY_MS} ms, webhooks`, delayedWebhooks, delayedMints],
      [`settling after ${DELAY_MS} ms, polling only`, delayedPolling, delayedMints],
    ].map(([label, r, want]) => {
      const n = (r as typeof webhooks).latencies.length
      return { description: `${label as string}: every mint completed`, ok: n >= (want as number), detail: `${n} of ${want as number}` }
    }),
    { description: 'every notification answered 200, worker stopped and saturated', ok: route.workerStopped.n === flood && route.workerSaturated.n === flood, detail: `${route.workerStopped.n} and ${route.workerSaturated.n} of ${flood}` },
    { description: 'the worker was busy during the flood', ok: route.workerAttemptsDuringFlood > 0, detail: `${route.workerAttemptsDuringFlood} delivery attempts, ${route.backlogAtEnd} pending at the end` },
  ]
  return { title, unit: 'completions/s (mints), answers/s (/webhook)', scenarios, targets, checks }
}
