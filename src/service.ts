import type { Logger } from 'pino'
import { sql } from 'kysely'
import type { Config } from './config.ts'
import { HttpCardIssuer } from './adapters/card-issuer/http.ts'
import { CircleSdkAdapter } from './adapters/circle/sdk.ts'
import { createCircleSimulator } from './adapters/circle/simulator/simulator.ts'
import { createEventStore } from './adapters/event-store/index.ts'
import { createDb, createPool, ensureDatabase, migrate } from './adapters/postgres/database.ts'
import { parseAmount } from './events/money.ts'
import { buildApp } from './http/app.ts'
import { developmentApiKeys, DEVELOPMENT_KEYS } from './http/plugins/auth.ts'
import { purgeExpiredIdempotencyKeys } from './http/plugins/idempotency.ts'
import { Metrics } from './metrics.ts'
import { ProcessManager } from './process-manager/process-manager.ts'
import { readModels } from './projections/index.ts'
import { checkpointName } from './subscriptions/projection.ts'
import { ProjectionRunner } from './subscriptions/projection-runner.ts'
import { readYourWrites } from './subscriptions/read-your-writes.ts'
import { SNS_TOPIC_ARN } from './adapters/circle/simulator/webhooks.ts'
import { CirclePublicKeys } from './webhooks/public-keys.ts'
import { SnsCertificates } from './webhooks/sns.ts'
import { WebhookVerifier } from './webhooks/verify.ts'
import { WebhookWorker } from './webhooks/worker.ts'

export const ROLES = ['api', 'projections', 'process-manager', 'webhook-worker'] as const
export type Role = (typeof ROLES)[number]

export interface RunningService {
  url: string | undefined
  /** Base URL of the embedded Circle simulator, when no Circle key is configured. */
  simulatorUrl: string | undefined
  stop(): Promise<void>
}

/** Composition root shared by `npm start` and the tests: adapters, migrations, the chosen roles. */
export async function startService(config: Config, roles: Role[], logger: Logger): Promise<RunningService> {
  await ensureDatabase(config.DATABASE_URL)
  const pool = createPool(config.DATABASE_URL, 20)
  const db = createDb(pool)
  const applied = await migrate(db)
  if (applied.length > 0) logger.info({ migrations: applied }, 'migrations applied')
  const metrics = new Metrics({ defaultMetrics: true })
  const store = createEventStore(config, pool, { onAppend: (s) => metrics.appendDuration.observe(s) })
  // Stopped in reverse order of start: the API first, the simulator (a dependency) last.
  const stops: (() => Promise<void>)[] = []

  let simulatorUrl: string | undefined
  let circleBaseUrl = config.CIRCLE_BASE_URL
  if (!config.CIRCLE_API_KEY) {
    const simulator = await createCircleSimulator({ settleMs: config.SIMULATOR_SETTLE_MS, treasury: config.SIMULATOR_TREASURY })
    simulatorUrl = await simulator.listen(0, '127.0.0.1')
    circleBaseUrl = simulatorUrl
    stops.unshift(() => simulator.close())
    logger.warn({ simulatorUrl }, 'CIRCLE_API_KEY is unset: using the embedded Circle simulator')
  }
  const circle = new CircleSdkAdapter({
    apiKey: config.CIRCLE_API_KEY ?? 'SIMULATOR',
    baseUrl: circleBaseUrl!,
    timeoutMs: config.CIRCLE_TIMEOUT_MS,
    ratePerSecond: config.CIRCLE_RATE_PER_SECOND,
    logger,
  })
  // Circle has no card issuing: the issuer is its own service, by default the simulator's issuing routes.
  const issuer = new HttpCardIssuer({ baseUrl: (config.CARD_ISSUER_URL ?? simulatorUrl)!, apiKey: config.CARD_ISSUER_API_KEY ?? 'SIMULATOR', timeoutMs: config.CIRCLE_TIMEOUT_MS, logger })

  let projections: ProjectionRunner | undefined
  if (roles.includes('projections')) {
    projections = new ProjectionRunner({ projections: readModels, store, db, leasePool: pool, logger })
    metrics.trackLag('read-models', () => projections!.status().then((s) => s.lag))
    projections.start()
    const runner = projections
    stops.unshift(() => runner.stop())
  }

  let worker: WebhookWorker | undefined
  if (roles.includes('webhook-worker')) {
    worker = new WebhookWorker({
      store,
      db,
      pool,
      issuer,
      masterWalletId: () => circle.masterWalletId(),
      logger,
      metrics,
      maxAttempts: config.WEBHOOK_MAX_ATTEMPTS,
      retry: { baseMs: config.WEBHOOK_RETRY_BASE_MS, maxMs: 60_000 },
    })
    worker.start()
    const running = worker
    stops.unshift(() => running.stop())
  }

  if (roles.includes('process-manager')) {
    const pm = new ProcessManager({
      store,
      db,
      pool,
      circle,
      issuer,
      logger,
      metrics,
      pollMs: config.CIRCLE_POLL_INTERVAL_MS,
      webhookBackoff: { pollMs: config.CIRCLE_POLL_INTERVAL_WITH_WEBHOOKS_MS, windowMs: 5 * 60_000 },
      maxAttempts: config.TASK_MAX_ATTEMPTS,
      maxAgeMs: config.TASK_MAX_AGE * 1000,
    })
    metrics.trackLag('process-manager', () => pm.lag)
    pm.start()
    stops.unshift(() => pm.stop())
  }

  let url: string | undefined
  if (roles.includes('api')) {
    const apiKeys = config.API_KEYS ?? developmentApiKeys()
    if (!config.API_KEYS) logger.warn({ keys: DEVELOPMENT_KEYS.map((k) => k.name) }, 'API_KEYS is unset: the documented development keys are accepted')
    const app = await buildApp({
      logger,
      health: {
        database: async () => void (await sql`SELECT 1`.execute(db)),
        eventStore: async () => void (await store.head()),
      },
      store,
      db,
      // With the projections in this process the wait follows them directly; an API-only instance polls their checkpoint.
      readModels: readYourWrites({ store, db, checkpoint: checkpointName(readModels[0]!), ...(projections ? { local: projections } : {}) }),
      metrics,
      circle,
      apiKeys,
      maxAmount: parseAmount(config.MAX_AMOUNT),
      idempotencyTtlHours: config.IDEMPOTENCY_TTL_HOURS,
      rateLimit: { max: config.RATE_LIMIT_MAX, windowMs: config.RATE_LIMIT_WINDOW_MS },
      webhooks: {
        verifier: new WebhookVerifier({
          publicKeys: new CirclePublicKeys({ baseUrl: circleBaseUrl!, apiKey: config.CIRCLE_API_KEY ?? 'SIMULATOR', timeoutMs: config.CIRCLE_TIMEOUT_MS }),
          certificates: new SnsCertificates({ timeoutMs: config.CIRCLE_TIMEOUT_MS }),
          // The embedded simulator signs SNS envelopes with a test certificate served from its own (http) origin.
          snsTopicArns: config.CIRCLE_SNS_TOPIC_ARNS ?? (simulatorUrl ? [SNS_TOPIC_ARN] : []),
          snsExtraOrigins: simulatorUrl ? [new URL(simulatorUrl).origin] : [],
        }),
        rateLimit: { max: config.WEBHOOK_RATE_LIMIT_MAX, windowMs: 60_000 },
        ...(worker ? { onStored: () => worker.notify() } : {}),
      },
    })
    url = await app.listen({ port: config.PORT, host: config.HOST })
    if (simulatorUrl) await subscribeSimulator(simulatorUrl, app.server.address(), config.SIMULATOR_WEBHOOKS, logger)
    const purge = setInterval(() => void purgeExpiredIdempotencyKeys(db).catch((err: unknown) => logger.warn({ err }, 'idempotency purge failed')), 3_600_000)
    purge.unref()
    stops.unshift(async () => {
      clearInterval(purge)
      await app.close()
    })
  }
  logger.info({ roles, eventStore: store.kind, url }, 'circle-ledger started')

  return {
    url,
    simulatorUrl,
    async stop() {
      // Stop accepting first, then drain the workers, then the simulator, then close the pools.
      for (const stop of stops) await stop()
      await store.close()
      await db.destroy()
    },
  }
}

/** Points the embedded simulator's webhooks at this service's own /webhook, so `npm start` shows the whole flow. */
async function subscribeSimulator(simulatorUrl: string, address: ReturnType<import('node:net').Server['address']>, versions: ('v1' | 'v2')[], logger: Logger): Promise<void> {
  if (!address || typeof address === 'string') return
  const url = `http://127.0.0.1:${address.port}/webhook`
  for (const version of versions) {
    const res = await fetch(`${simulatorUrl}/sim/webhooks`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ url, version }) })
    if (!res.ok) throw new Error(`the simulator refused the webhook subscription: HTTP ${res.status}`)
    await res.arrayBuffer()
  }
  if (versions.length > 0) logger.info({ url, versions }, 'embedded simulator delivers webhooks to this service')
}
