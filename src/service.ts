import type { Logger } from 'pino'
import { sql } from 'kysely'
import type { Config } from './config.ts'
import { createDb, createPool, ensureDatabase, migrate } from './adapters/postgres/database.ts'
import { createEventStore } from './adapters/event-store/index.ts'
import { CircleSdkAdapter } from './adapters/circle/sdk.ts'
import { parseAmount } from './events/money.ts'
import { buildApp } from './http/app.ts'
import { developmentApiKeys, DEVELOPMENT_KEYS } from './http/plugins/auth.ts'
import { purgeExpiredIdempotencyKeys } from './http/plugins/idempotency.ts'
import { Metrics } from './metrics.ts'

export const ROLES = ['api'] as const
export type Role = (typeof ROLES)[number]

export interface RunningService {
  url: string | undefined
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
  const stops: (() => Promise<void>)[] = []

  const circle = new CircleSdkAdapter({ apiKey: config.CIRCLE_API_KEY ?? 'simulator', baseUrl: config.CIRCLE_BASE_URL ?? 'http://127.0.0.1:0', logger })

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
    stops.push(async () => {
      clearInterval(purge)
      await app.close()
    })
  }
  logger.info({ roles, eventStore: store.kind, url }, 'circle-ledger started')

  return {
    url,
    async stop() {
      // Stop accepting first, then drain the workers, then close the pools they used.
      for (const stop of stops) await stop()
      await store.close()
      await db.destroy()
    },
  }
}
