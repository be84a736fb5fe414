import autocannon from 'autocannon'
import { startCommandServers } from './lib/http-servers.ts'
import { ratios, round, type BenchOptions, type Check, type Measurement, type Scenario } from './lib/report.ts'

export const title = 'GET /wallets/{id} through the whole service against a bare Fastify GET (zod-validated id, one SELECT)'

/** `BENCH_HTTP_CONNECTIONS=32` measures only that level (profiling). */
const CONNECTIONS = process.env.BENCH_HTTP_CONNECTIONS?.split(',').map(Number) ?? [8, 32, 128]

export async function run(options: BenchOptions) {
  const connections = options.tiny ? [2] : CONNECTIONS
  const seconds = options.tiny ? 1 : Number(process.env.BENCH_SECONDS ?? 5)
  const servers = await startCommandServers(options.databaseUrl, options.tiny ? 4 : 64)
  try {
    const scenarios: Scenario[] = []
    const checks: Check[] = []
    for (const c of connections) {
      const measurements: Measurement[] = []
      for (const subject of ['service', 'bare-route'] as const) {
        options.log(`reads: ${c} connections: ${subject}`)
        const paths = subject === 'service' ? servers.wallets.map((id) => `${servers.serviceUrl}/wallets/${id}`) : servers.bareIds.map((id) => `${servers.bareUrl}/bare/transfers/${id}`)
        const result = await load(paths, c, seconds)
        const ok = result['2xx']
        const errors = result.errors + result.timeouts + result.non2xx
        checks.push({ description: `${c} connections, ${subject}: every request answered 2xx`, ok: errors === 0 && ok > 0, detail: `2xx ${ok}, non-2xx ${result.non2xx}, errors ${result.errors}, timeouts ${result.timeouts}` })
        measurements.push({
          subject,
          rate: round(ok / result.duration, 0),
          operations: ok,
          seconds: round(result.duration, 2),
          p50Ms: result.latency.p50,
          p99Ms: result.latency.p99,
          extra: { non2xx: result.non2xx, errors: result.errors, timeouts: result.timeouts },
        })
      }
      scenarios.push({ name: `${c} connections`, parameters: { connections: c }, measurements, ratios: ratios(measurements, [['service', 'bare-route']]) })
    }
    // The issue sets no target for reads: the figures stand beside their ceiling.
    return { title, unit: 'requests/s', scenarios, targets: [], checks }
  } finally {
    await servers.stop()
  }
}

/** Requests spread over every resource, round-robin. */
function load(urls: string[], connections: number, seconds: number): Promise<autocannon.Result> {
  const first = new URL(urls[0]!)
  let next = 0
  return autocannon({
    url: first.origin,
    connections,
    duration: seconds,
    headers: { authorization: 'Bearer dev-backend-key' },
    requests: [
      {
        setupRequest: (req) => {
          const url = new URL(urls[next++ % urls.length]!)
          return { ...req, method: 'GET', path: url.pathname }
        },
      },
    ],
  })
}
