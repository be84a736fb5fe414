import { httpConnections, httpSeconds, load, measured, transferRequest } from './lib/autocannon.ts'
import { startCommandServers } from './lib/http-servers.ts'
import { ratios, round, type BenchOptions, type Check, type Measurement, type Scenario, type Target } from './lib/report.ts'

export const title =
  'POST /transfers through the whole service (admission control off: the rate the API accepts work) against a bare Fastify route (zod-validated body, one INSERT)'

export async function run(options: BenchOptions) {
  const seconds = httpSeconds(options.tiny)
  // Admission control off: this measures what the command path costs. With it on (the default) the
  // API accepts only what the process manager keeps up with; the soak measures that rate.
  const servers = await startCommandServers(options.databaseUrl, options.tiny ? 4 : 64, { admission: false })
  try {
    const scenarios: Scenario[] = []
    const checks: Check[] = []
    for (const c of httpConnections(options.tiny)) {
      const measurements: Measurement[] = []
      for (const subject of ['service', 'bare-route'] as const) {
        options.log(`commands: ${c} connections: ${subject}`)
        const [origin, path] = subject === 'service' ? [servers.serviceUrl, '/transfers'] : [servers.bareUrl, '/bare/transfers']
        const before = await servers.cpu()
        const result = await load(origin, { connections: c, seconds, next: () => transferRequest(servers.wallets, path) })
        const after = await servers.cpu()
        // Of one core: whether the Node process or PostgreSQL is the one at its limit.
        const cores = { node: round((after.node - before.node) / result.duration, 2), postgres: round((after.postgres - before.postgres) / result.duration, 2) }
        const { measurement, check } = measured(subject, `${c} connections`, result)
        // Accepted but not yet carried to Circle when the load stopped (the service's own process manager is behind).
        const backlog = subject === 'service' ? { processManagerBacklog: await servers.backlog() } : {}
        measurements.push({ ...measurement, extra: { ...measurement.extra, nodeCores: cores.node, postgresCores: cores.postgres, ...backlog } })
        checks.push(check)
      }
      scenarios.push({ name: `${c} connections`, parameters: { connections: c }, measurements, ratios: ratios(measurements, [['service', 'bare-route']]) })
    }
    return { title, unit: 'requests/s', scenarios, targets: targets(scenarios), checks }
  } finally {
    await servers.stop()
  }
}

function targets(scenarios: Scenario[]): Target[] {
  const at32 = scenarios.find((s) => s.parameters.connections === 32)
  const ratio = at32?.ratios[0]?.ratio ?? 0
  const p99 = at32?.measurements.find((m) => m.subject === 'service')?.p99Ms ?? Infinity
  return [
    { description: `POST /transfers at 32 connections ≥ 0.5 × the bare route (${ratio})`, met: ratio >= 0.5 },
    { description: `POST /transfers p99 at 32 connections < 50 ms (${p99} ms)`, met: p99 < 50 },
  ]
}
