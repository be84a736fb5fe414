import { setTimeout as sleep } from 'node:timers/promises'
import pino from 'pino'
import type { Test } from 'tap'
import { HttpCardIssuer } from '../../src/adapters/card-issuer/http.ts'
import { CircleSdkAdapter } from '../../src/adapters/circle/sdk.ts'
import { createCircleSimulator, type SimulatorOptions } from '../../src/adapters/circle/simulator/simulator.ts'
import { PostgresEventStore } from '../../src/adapters/event-store/postgres.ts'
import { ProcessManager, type ProcessManagerOptions } from '../../src/process-manager/process-manager.ts'
import { testDatabase } from './database.ts'

/** A Circle simulator on a real port, the real SDK adapter and card issuer pointed at it. */
export async function simulatedCircle(t: Test, options: SimulatorOptions = {}) {
  const sim = await createCircleSimulator({ settleMs: 30, webhookRetryDelayMs: 20, ...options })
  const url = await sim.listen()
  t.teardown(() => sim.close())
  const circle = new CircleSdkAdapter({ apiKey: 'SIM_KEY', baseUrl: url, timeoutMs: 2000, backoff: { baseMs: 5, maxMs: 40 }, ratePerSecond: 500, maxAttempts: 8 })
  const issuer = new HttpCardIssuer({ baseUrl: url, apiKey: 'SIM_KEY', timeoutMs: 2000, backoff: { baseMs: 5, maxMs: 40 }, maxAttempts: 8 })
  return { sim, url, circle, issuer }
}

/** Postgres store, simulator and a running process manager with short poll intervals. */
export async function processManagerHarness(t: Test, options: SimulatorOptions = {}, pmOptions: Partial<ProcessManagerOptions> = {}) {
  const database = await testDatabase(t)
  const store = new PostgresEventStore(database.pool, { pollIntervalMs: 100 })
  const circle = await simulatedCircle(t, options)
  const pm = new ProcessManager({
    store,
    db: database.db,
    pool: database.pool,
    circle: circle.circle,
    issuer: circle.issuer,
    logger: pino({ level: 'silent' }),
    pollMs: 60,
    tickMs: 20,
    retry: { baseMs: 20, maxMs: 200 },
    leaseRetryMs: 100,
    ...pmOptions,
  })
  pm.start()
  t.teardown(async () => {
    await pm.stop()
    await store.close()
  })
  return { ...database, store, pm, ...circle }
}

/** Polls until `check` returns something truthy, or fails after `ms`. */
export async function until<T>(check: () => Promise<T | undefined | false>, ms = 15_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + ms
  for (;;) {
    const value = await check()
    if (value) return value
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(25)
  }
}
