import { httpConnections, httpSeconds, load, measured } from './lib/autocannon.ts'
import { startCommandServers } from './lib/http-servers.ts'
import { ratios, type BenchOptions, type Check, type Measurement, type Scenario } from './lib/report.ts'

export const title = 'GET /wallets/{id} through the whole service against a bare Fastify GET (zod-validated id, one SELECT)'

export async function run(options: BenchOptions) {
  const seconds = httpSeconds(options.tiny)
  const servers = await startCommandServers(options.databaseUrl, options.tiny ? 4 : 64)
  try {
    const scenarios: Scenario[] = []
    const checks: Check[] = []
    for (const c of httpConnections(options.tiny)) {
      const measurements: Measurement[] = []
      for (const subject of ['service', 'bare-route'] as const) {
        options.log(`reads: ${c} connections: ${subject}`)
        // Requests spread over every resource, round-robin.
        const [origin, paths] = subject === 'service' ? [servers.serviceUrl, servers.wallets.map((id) => `/wallets/${id}`)] : [servers.bareUrl, servers.bareIds.map((id) => `/bare/transfers/${id}`)]
        let next = 0
        const result = await load(origin, { connections: c, seconds, next: () => ({ method: 'GET', path: paths[next++ % paths.length]! }) })
        const { measurement, check } = measured(subject, `${c} connections`, result)
        measurements.push(measurement)
        checks.push(check)
      }
      scenarios.push({ name: `${c} connections`, parameters: { connections: c }, measurements, ratios: ratios(measurements, [['service', 'bare-route']]) })
    }
    // The issue sets no target for reads: the figures stand beside their ceiling.
    return { title, unit: 'requests/s', scenarios, targets: [], checks }
  } finally {
    await servers.stop()
  }
}
