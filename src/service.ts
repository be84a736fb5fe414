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
import { DepositPoller } from './process-manager/deposit-poller.ts'
import { ProcessManager } from './process-manager/process-manager.ts'
import { queueStats } from './process-manager/tasks.ts'

export const ROLES = ['api', 'process-manager'] as const
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
    logger.warn(
      { simulatorUrl },
      `CIRCLE_API_KEY is unset: using the embedded Circle simulator at ${simulatorUrl} (simulate a deposit: POST ${simulatorUrl}/sim/deposits {"walletId": <circleWalletId>, "amount": "5.00", "chain": "SOL"})`,
    )
  }
  const circle = new CircleSdkAdapter({
    apiKey: config.CIRCLE_API_KEY ?? 'SIMULATOR',
    baseUrl: circleBaseUrl!,
    timeoutMs: config.CIRCLE_TIMEOUT_MS,
    ratePerSecond: config.CIRCLE_RATE_PER_SECOND,
    logger,
    metrics,
  })
  // Circle has no card issuing: the issuer is its own service, by default the simulator's issuing routes.
  const issuer = new HttpCardIssuer({ baseUrl: (config.CARD_ISSUER_URL ?? simulatorUrl)!, apiKey: config.CARD_ISSUER_API_KEY ?? 'SIMULATOR', timeoutMs: config.CIRCLE_TIMEOUT_MS, logger })

  if (roles.includes('process-manager')) {
    const pm = new ProcessManager({ store, db, pool, circle, issuer, logger, metrics, pollMs: config.CIRCLE_POLL_INTERVAL_MS })
    metrics.trackQueue(() => queueStats(db))
    metrics.trackLag('process-manager', () => pm.lag)
    pm.start()
    stops.unshift(() => pm.stop())
    const deposits = new DepositPoller({ store, db, pool, circle, logger, metrics, intervalMs: config.CIRCLE_POLL_INTERVAL_MS })
    deposits.start()
    stops.unshift(() => deposits.stop())
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
      ...(simulatorUrl ? { healthDetails: { circleSimulatorUrl: simulatorUrl } } : {}),
      store,
      db,
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
