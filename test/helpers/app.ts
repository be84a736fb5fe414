import pino from 'pino'
import type { Test } from 'tap'
import { sql } from 'kysely'
import type { CirclePort } from '../../src/adapters/circle/port.ts'
import { PostgresEventStore } from '../../src/adapters/event-store/postgres.ts'
import { buildApp, type AppDeps } from '../../src/http/app.ts'
import { developmentApiKeys } from '../../src/http/plugins/auth.ts'
import { parseAmount } from '../../src/events/money.ts'
import { Metrics } from '../../src/metrics.ts'
import { readModels } from '../../src/projections/index.ts'
import { checkpointName } from '../../src/subscriptions/projection.ts'
import { ProjectionRunner } from '../../src/subscriptions/projection-runner.ts'
import { readYourWrites } from '../../src/subscriptions/read-your-writes.ts'
import { testDatabase, type TestDatabase } from './database.ts'

/** A Circle stand-in for routes that call Circle directly (bank accounts); the simulator tests the real adapter. */
export function fakeWireAccounts(): Pick<CirclePort, 'createWireAccount'> & { calls: { idempotencyKey: string; details: unknown }[] } {
  const calls: { idempotencyKey: string; details: unknown }[] = []
  return {
    calls,
    async createWireAccount(request) {
      calls.push(request)
      return { id: `wire-${request.idempotencyKey.slice(0, 8)}`, status: 'pending' }
    },
  }
}

export const auth = {
  backend: { authorization: 'Bearer dev-backend-key' },
  auditor: { authorization: 'Bearer dev-auditor-key' },
  admin: { authorization: 'Bearer dev-admin-key' },
}

/** The real app on a fresh Postgres database, with the development keys and the read models projected in-process. */
export async function testApp(t: Test, overrides: Partial<AppDeps> = {}, database?: TestDatabase) {
  const { db, pool } = database ?? (await testDatabase(t))
  const store = overrides.store ?? new PostgresEventStore(pool, { pollIntervalMs: 100 })
  const projections = new ProjectionRunner({ projections: readModels, store, db })
  projections.start()
  const deps: AppDeps = {
    logger: pino({ level: 'silent' }),
    health: { database: async () => void (await sql`SELECT 1`.execute(db)), eventStore: async () => void (await store.head()) },
    store,
    db,
    readModels: readYourWrites({ store, db, checkpoint: checkpointName(readModels[0]!), local: projections }),
    metrics: new Metrics(),
    circle: fakeWireAccounts(),
    apiKeys: developmentApiKeys(),
    maxAmount: parseAmount('1000000'),
    idempotencyTtlHours: 24,
    rateLimit: { max: 10_000, windowMs: 60_000 },
    ...overrides,
  }
  const app = await buildApp(deps)
  t.teardown(async () => {
    await app.close()
    await projections.stop()
    await store.close()
  })
  return { app, store, db, pool, deps, projections }
}
