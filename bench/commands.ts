import { httpConnections, httpSeconds, load, measured, transferRequest } from './lib/autocannon.ts'
import { startCommandServers } from './lib/http-servers.ts'
import { ratios, round, type BenchOptions, type Check, type Measurement, type Scenario, type Target } from './lib/report.ts'

export const title =
  'POST /transfers through the whole service (admission control off: the rate the API accepts work) against a bare Fastify route (zod-validated body, one INSERT); then the request path alone (API and read models, no Circle work)'

/** The service with only what a POST waits for: the API, and the read models its answer waits on (read-your-writes). */
const REQUEST_PATH = 'request-path'

export async function run(options: BenchOptions) {
  const seconds = httpSeconds(options.tiny)
  // Admission control off: this measures what the command path costs. With it on (the default) the
  // API accepts only what the process manager keeps up with; the soak measures that rate.
  const servers = await startCommandServers(options.databaseUrl, options.tiny ? 4 : 64, { admission: false })
  try {
    const idleCores = round(await servers.measureIdle(), 2)
    options.log(`commands: the servers use ${idleCores} cores idle (the process manager and deposit poller asking the embedded Circle)`)
    const checks: Check[] = []
    const byLevel = new Map<number, Measurement[]>()
    const measure = async (subject: string, origin: string, path: string, c: number) => {
      options.log(`commands: ${c} connections: ${subject}`)
      const before = await servers.cpu()
      const result = await load(origin, { connections: c, seconds, next: () => transferRequest(servers.wallets, path) })
      const after = await servers.cpu()
      // Of one core: whether the Node process or PostgreSQL is the one at its limit.
      const cores = { node: round((after.node - before.node) / result.duration, 2), postgres: round((after.postgres - before.postgres) / result.duration, 2) }
      const { measurement, check } = measured(subject, `${c} connections`, result)
      // Accepted but not yet carried to Circle when the load stopped (the service's own process manager is behind).
      const backlog = subject === 'service' ? { processManagerBacklog: await servers.backlog(), idleCores } : {}
      // What the service accepted is carried out before anything else is measured: its background
      // work would otherwise share the cores with the next subject.
      const drained = subject === 'bare-route' ? {} : { drainSeconds: Math.round(await servers.quiet({ log: options.log })) }
      byLevel.set(c, [...(byLevel.get(c) ?? []), { ...measurement, extra: { ...measurement.extra, nodeCores: cores.node, postgresCores: cores.postgres, ...backlog, ...drained } }])
      checks.push(check)
    }
    for (const c of httpConnections(options.tiny)) {
      await measure('service', servers.serviceUrl, '/transfers', c)
      await measure('bare-route', servers.bareUrl, '/bare/transfers', c)
    }
    // Where the rest goes: the same requests with no Circle work behind them (no process manager,
    // simulator, webhooks or notifier), on the same database, after everything above.
    const requestPath = await servers.restart(['api', 'projections'])
    for (const c of httpConnections(options.tiny)) await measure(REQUEST_PATH, requestPath, '/transfers', c)
    const scenarios: Scenario[] = [...byLevel].map(([c, measurements]) => ({
      name: `${c} connections`,
      parameters: { connections: c },
      measurements,
      ratios: ratios(measurements, [
        ['service', 'bare-route'],
        [REQUEST_PATH, 'bare-route'],
      ]),
    }))
    return { title, unit: 'requests/s', scenarios, targets: targets(scenarios), checks }
  } finally {
    await servers.stop()
  }
}

function targets(scenarios: Scenario[]): Target[] {
  const at32 = scenarios.find((s) => s.parameters.connections === 32)
  const ratio = at32?.ratios.find((r) => r.subject === 'service')?.ratio ?? 0
  const p99 = at32?.measurements.find((m) => m.subject === 'service')?.p99Ms ?? Infinity
  return [
    { description: `POST /transfers at 32 connections ≥ 0.5 × the bare route (${ratio})`, met: ratio >= 0.5 },
    { description: `POST /transfers p99 at 32 connections < 50 ms (${p99} ms)`, met: p99 < 50 },
  ]
}
