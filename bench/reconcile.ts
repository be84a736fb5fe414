import { randomUUID } from 'node:crypto'
import pino from 'pino'
import { CircleSdkAdapter } from '../src/adapters/circle/sdk.ts'
import { createCircleSimulator } from '../src/adapters/circle/simulator/simulator.ts'
import { PostgresEventStore } from '../src/adapters/event-store/postgres.ts'
import { createDb, createPool, migrate } from '../src/adapters/postgres/database.ts'
import { readModels } from '../src/projections/index.ts'
import { reconcile } from '../src/reconciliation/reconciler.ts'
import { ProjectionRunner } from '../src/subscriptions/projection-runner.ts'
import { createBenchDatabase } from './lib/database.ts'
import { ratios, round, type BenchOptions, type Check, type Measurement } from './lib/report.ts'

export const title = 'A reconciliation run over N wallets at Circle’s rate limit, against the same Circle calls alone through the same limiter'

/** The service's default client-side limit (CIRCLE_RATE_PER_SECOND). */
const RATE = Number(process.env.BENCH_CIRCLE_RATE ?? 8)

export async function run(options: BenchOptions) {
  const wallets = options.tiny ? 10 : Number(process.env.BENCH_RECONCILE_WALLETS ?? 1000)
  const database = await createBenchDatabase(options.databaseUrl, 'reconcile')
  const pool = createPool(database.url, 8)
  const db = createDb(pool)
  const store = new PostgresEventStore(pool)
  const sim = await createCircleSimulator({ settleMs: 10 })
  const url = await sim.listen()
  const logger = pino({ level: 'silent' })
  try {
    await migrate(db)
    // Wallets exist at Circle and in the ledger, as the process manager would have left them.
    options.log(`reconcile: creating ${wallets} wallets`)
    const setup = new CircleSdkAdapter({ apiKey: 'BENCH', baseUrl: url, ratePerSecond: 100_000 })
    const circleIds: string[] = []
    for (let i = 0; i < wallets; i += 50) {
      const batch = await Promise.all(Array.from({ length: Math.min(50, wallets - i) }, () => setup.createWallet({ idempotencyKey: randomUUID() })))
      for (const w of batch) circleIds.push(w.walletId)
    }
    const at = new Date().toISOString()
    for (const circleWalletId of circleIds) {
      const walletId = randomUUID()
      const metadata = { correlationId: walletId, causationId: walletId, actor: 'bench', occurredAt: at }
      await store.append(
        `wallet-${walletId}`,
        [
          { id: randomUUID(), type: 'WalletCreationRequested', data: { walletId, ownerId: 'bench' }, metadata },
          { id: randomUUID(), type: 'WalletCreated', data: { walletId, circleWalletId }, metadata },
        ],
        { expected: 'no_stream' },
      )
    }
    const projections = new ProjectionRunner({ projections: readModels, store, db })
    projections.start()
    await projections.caughtUp((await store.head())!, 120_000)
    await projections.stop()

    const measurements: Measurement[] = []
    const checks: Check[] = []

    options.log(`reconcile: a run over ${wallets} wallets at ${RATE} calls/s`)
    const circle = new CircleSdkAdapter({ apiKey: 'BENCH', baseUrl: url, ratePerSecond: RATE })
    sim.received.length = 0
    let started = performance.now()
    const result = await reconcile({ db, pool, store, circle, logger }, { staleAfterMs: 0, graceMs: 0, recheckMs: 0 }, 'cli')
    let seconds = (performance.now() - started) / 1000
    const calls = sim.received.length
    const peak = peakPerSecond(sim.received.map((r) => r.at))
    measurements.push({ subject: 'reconcile', rate: round(wallets / seconds, 2), operations: wallets, seconds: round(seconds, 2), p50Ms: round(seconds * 1000, 0), p99Ms: round(seconds * 1000, 0), extra: { circleCalls: calls, callsPerSecond: round(calls / seconds, 2), peakCallsInOneSecond: peak, outcome: result.outcome } })
    checks.push({ description: 'the run is clean and looked at every wallet', ok: result.outcome === 'clean' && result.checked.wallets === wallets, detail: `outcome ${result.outcome}, wallets ${result.checked.wallets}, findings ${result.findings}` })
    // The bucket holds one second of calls: no second may see more than two seconds' worth.
    checks.push({ description: `the limiter held: at most ${2 * RATE} Circle calls in any one second`, ok: peak <= 2 * RATE, detail: `peak ${peak} calls in one second, ${calls} calls` })

    options.log(`reconcile: the same ${calls} Circle calls alone`)
    const bare = new CircleSdkAdapter({ apiKey: 'BENCH', baseUrl: url, ratePerSecond: RATE })
    sim.received.length = 0
    started = performance.now()
    let next = 0
    const worker = async () => {
      while (next < circleIds.length) {
        const id = circleIds[next++]!
        await bare.getWallet(id)
      }
    }
    await Promise.all(Array.from({ length: 4 }, worker))
    await bare.masterWalletId()
    await bare.listAllTransfers({ to: new Date().toISOString() })
    await bare.listPayouts({})
    seconds = (performance.now() - started) / 1000
    const bareCalls = sim.received.length
    measurements.push({ subject: 'circle-calls-only', rate: round(wallets / seconds, 2), operations: wallets, seconds: round(seconds, 2), p50Ms: round(seconds * 1000, 0), p99Ms: round(seconds * 1000, 0), extra: { circleCalls: bareCalls, callsPerSecond: round(bareCalls / seconds, 2) } })

    return {
      title,
      unit: 'wallets/s',
      scenarios: [{ name: `${wallets} wallets at ${RATE} calls/s`, parameters: { wallets, ratePerSecond: RATE }, measurements, ratios: ratios(measurements, [['reconcile', 'circle-calls-only']]) }],
      targets: [{ description: `a run over ${wallets} wallets finishes within the rate limit's floor plus 25% (${round(((calls / RATE) * 1.25) , 0)} s)`, met: measurements[0]!.seconds <= (calls / RATE) * 1.25 + 1 }],
      checks,
    }
  } finally {
    await sim.close()
    await store.close()
    await db.destroy()
    await database.drop()
  }
}

/** Most calls seen within any one-second window. */
function peakPerSecond(times: number[]): number {
  const sorted = [...times].sort((a, b) => a - b)
  let peak = 0
  let start = 0
  for (let end = 0; end < sorted.length; end++) {
    while (sorted[end]! - sorted[start]! >= 1000) start++
    peak = Math.max(peak, end - start + 1)
  }
  return peak
}
