import { fork } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import path from 'node:path'
import { createCircleSimulator } from '../src/adapters/circle/simulator/simulator.ts'
import { postgresState } from '../src/adapters/circle/simulator/state.ts'
import { createBenchDatabase } from './lib/database.ts'
import { percentiles, ratios, round, type BenchOptions, type Check, type Measurement, type Scenario, type Target } from './lib/report.ts'

export const title = 'cost against history: a wallet with 50,000 events against a fresh one, GET /wallets/{id} and POST /transfers, and the event loop'

export async function run(options: BenchOptions) {
  const history = options.tiny ? 2_000 : 50_000
  const rounds = options.tiny ? 20 : 400
  const warmUp = options.tiny ? 3 : 50
  const database = await createBenchDatabase(options.databaseUrl, 'history')
  const spawn = (phase: 'build' | 'serve', extraEnv: Record<string, string> = {}) => {
    const child = fork(path.join(import.meta.dirname, 'lib', 'history-server.ts'), {
      env: { ...process.env, DATABASE_URL: database.url, BENCH_HISTORY: String(history), BENCH_PHASE: phase, ...extraEnv },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    })
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve))
    const next = <T>() =>
      Promise.race([
        new Promise<T>((resolve) => child.once('message', (m) => resolve(m as T))),
        exited.then((code) => Promise.reject(new Error(`the history server (${phase}) exited with ${code}`))),
      ])
    return { child, exited, next }
  }
  let serving: ReturnType<typeof spawn> | undefined
  let circle: Awaited<ReturnType<typeof createCircleSimulator>> | undefined
  try {
    options.log(`history: building a wallet with ${history} events`)
    const builder = spawn('build')
    const built = await builder.next<{ long: string; fresh: string; events: number }>()
    await builder.exited
    // A new process serves the measurement: the build's garbage and caches are gone, and the first
    // command on the long wallet loads it cold (from its read-model row and the events after it, or
    // from its first event if the row is not there). Circle is out of that
    // process, as in production: the simulator (the same durable state the build used) runs here,
    // so its settling and signing are not counted in the service's event loop.
    circle = await createCircleSimulator({ settleMs: 0, state: await postgresState(database.url) })
    const circleUrl = await circle.listen(0, '127.0.0.1')
    serving = spawn('serve', { CIRCLE_API_KEY: 'SIM', CIRCLE_BASE_URL: circleUrl, CARD_ISSUER_URL: circleUrl, CARD_ISSUER_API_KEY: 'SIM' })
    const { child, next } = serving
    const ready = { ...built, ...(await next<{ url: string }>()) }
    const request = async (method: string, url: string, body?: unknown) => {
      const t0 = performance.now()
      const res = await fetch(ready.url + url, {
        method,
        headers: { authorization: 'Bearer dev-backend-key', 'content-type': 'application/json', 'idempotency-key': randomUUID() },
        body: body === undefined ? undefined : JSON.stringify(body),
      })
      await res.arrayBuffer()
      return { ms: performance.now() - t0, ok: res.status < 300 }
    }
    let errors = 0
    const transfer = (walletId: string) => ({
      sourceWalletId: walletId,
      destination: { type: 'blockchain', chain: 'SOL', address: '4Nd1mBQtrMJVYVfKf2PJy9NZUZdTAsp7D4xWLs4gDB4T' },
      amount: '0.01',
    })
    // Warm-up on the fresh wallet only: a process's first requests compile its code paths while its
    // background roles make their first passes, which is start-up, not history. The long wallet is
    // not touched, so the first command on it still loads it cold. The warm-up's own delay is
    // reported beside the run's.
    for (let i = 0; i < warmUp; i++) {
      for (const r of [await request('POST', '/transfers', transfer(ready.fresh)), await request('GET', `/wallets/${ready.fresh}`)]) if (!r.ok) errors++
    }
    child.send('delay')
    const warm = await next<{ maxDelayMs: number; p99DelayMs: number }>()
    child.send('reset')
    const started = performance.now()
    const latencies = { getLong: [] as number[], getFresh: [] as number[], postLong: [] as number[], postFresh: [] as number[] }
    // Long and fresh take turns, so the machine's noise falls on both alike. The first POST on the
    // long wallet loads it into the command side's cache: it is in the figures.
    const steps = [
      ['postLong', () => request('POST', '/transfers', transfer(ready.long))],
      ['postFresh', () => request('POST', '/transfers', transfer(ready.fresh))],
      ['getLong', () => request('GET', `/wallets/${ready.long}`)],
      ['getFresh', () => request('GET', `/wallets/${ready.fresh}`)],
    ] as const
    for (let i = 0; i < rounds; i++) {
      // Odd rounds swap long and fresh: neither always follows the other's background work.
      const order = i % 2 === 0 ? steps : ([steps[1], steps[0], steps[3], steps[2]] as const)
      for (const [key, run] of order) {
        const r = await run()
        latencies[key].push(r.ms)
        if (!r.ok) errors++
      }
      if (i % 100 === 99) options.log(`history: ${i + 1} of ${rounds} rounds`)
    }
    const seconds = (performance.now() - started) / 1000
    child.send('delay')
    const loop = await next<{ maxDelayMs: number; p99DelayMs: number }>()
    const measure = (subject: string, list: number[]): Measurement => ({ subject, rate: round(list.length / seconds, 1), operations: list.length, seconds: round(seconds, 2), ...percentiles(list) })
    const scenarios: Scenario[] = []
    for (const [name, longList, freshList] of [
      ['GET /wallets/{id}', latencies.getLong, latencies.getFresh],
      ['POST /transfers', latencies.postLong, latencies.postFresh],
    ] as const) {
      const measurements = [measure('long-history', longList), measure('fresh', freshList)]
      // The ratio that matters here is latency: p50 of the long wallet over p50 of the fresh one.
      scenarios.push({
        name,
        // The long wallet's first request is its cold load (the POST's, since the GET reads the read model).
        parameters: { historyEvents: ready.events, requestsEach: longList.length, firstLongRequestMs: round(longList[0]!, 1) },
        measurements,
        ratios: [{ subject: 'long-history p50', baseline: 'fresh p50', ratio: round(measurements[0]!.p50Ms / measurements[1]!.p50Ms, 2) }, ...ratios(measurements, [['long-history', 'fresh']])],
      })
    }
    const p50ratio = (s: Scenario) => s.ratios[0]!.ratio
    const targets: Target[] = [
      { description: `GET /wallets/{id}: p50 of the long wallet within 1.5x of the fresh one (${p50ratio(scenarios[0]!)}x)`, met: p50ratio(scenarios[0]!) <= 1.5 },
      { description: `POST /transfers: p50 of the long wallet within 1.5x of the fresh one (${p50ratio(scenarios[1]!)}x)`, met: p50ratio(scenarios[1]!) <= 1.5 },
      {
        description: `the event loop's maximum delay in the service during the run under 50 ms (${round(loop.maxDelayMs, 1)} ms, p99 ${round(loop.p99DelayMs, 1)} ms; in the ${warmUp * 2} warm-up requests before it ${round(warm.maxDelayMs, 1)} ms)`,
        met: loop.maxDelayMs < 50,
      },
    ]
    const checks: Check[] = [
      { description: 'the long wallet holds the history asked for', ok: ready.events >= history, detail: `${ready.events} events` },
      { description: 'every request answered 2xx', ok: errors === 0, detail: `${errors} errors` },
    ]
    return { title, unit: 'requests/s (sequential, interleaved)', scenarios, targets, checks, eventLoop: loop, warmUp: { requests: warmUp * 2, eventLoop: warm } }
  } finally {
    if (serving) {
      serving.child.send('stop')
      const timer = setTimeout(() => serving!.child.kill('SIGKILL'), 15_000)
      await serving.exited
      clearTimeout(timer)
    }
    await circle?.close()
    await database.drop()
  }
}
