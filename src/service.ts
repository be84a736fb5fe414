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
import { ledgerRunners } from './ledger/index.ts'
import { Metrics } from './metrics.ts'
import { ProcessManager } from './process-manager/process-manager.ts'
import { readModels } from './projections/index.ts'
import { checkpointName } from './subscriptions/projection.ts'
import { ProjectionRunner } from './subscriptions/projection-runner.ts'
import { readYourWrites } from './subscriptions/read-your-writes.ts'

export const ROLES = ['api', 'projections', 'process-manager'] as const
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
    // The journal and the audit log run beside the read models, each with its own checkpoint and lease.
    const ledger = ledgerRunners({ store, db, leasePool: pool, logger })
    metrics.trackLag('journal', () => ledger.journal.status().then((s) => s.lag))
    metrics.trackLag('audit-log', () => ledger.audit.status().then((s) => s.lag))
    ledger.start()
    stops.unshift(() => ledger.stop())
  }

  if (roles.includes('process-manager')) {
    const pm = new ProcessManager({ store, db, pool, circle, issuer, logger, pollMs: config.CIRCLE_POLL_INTERVAL_MS })
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
    })
    url = await app.listen({ port: config.PORT, host: config.HOST })
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
