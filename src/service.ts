import type { Logger } from 'pino'
import type { Config } from './config.ts'
import { createDb, createPool, ensureDatabase, migrate } from './adapters/postgres/database.ts'
import { createEventStore } from './adapters/event-store/index.ts'
import { buildApp } from './http/app.ts'
import { sql } from 'kysely'

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
  const store = createEventStore(config, pool)

  const stops: (() => Promise<void>)[] = []
  let url: string | undefined
  if (roles.includes('api')) {
    const app = await buildApp({
      logger,
      health: {
        database: async () => void (await sql`SELECT 1`.execute(db)),
        eventStore: async () => void (await store.head()),
      },
    })
    url = await app.listen({ port: config.PORT, host: config.HOST })
    stops.push(() => app.close())
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
