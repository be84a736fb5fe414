import { randomUUID } from 'node:crypto'
import autocannon from 'autocannon'
import { startCommandServers } from './lib/http-servers.ts'
import { ratios, round, type BenchOptions, type Check, type Measurement, type Scenario, type Target } from './lib/report.ts'

export const title = 'POST /transfers through the whole service against a bare Fastify route (zod-validated body, one INSERT)'

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
        options.log(`commands: ${c} connections: ${subject}`)
        const url = subject === 'service' ? `${servers.serviceUrl}/transfers` : `${servers.bareUrl}/bare/transfers`
        const before = await servers.cpu()
        const result = await load(url, c, seconds, servers.wallets)
        const after = await servers.cpu()
        // Of one core: whether the Node process or PostgreSQL is the one at its limit.
        const cores = { node: round((after.node - before.node) / result.duration, 2), postgres: round((after.postgres - before.postgres) / result.duration, 2) }
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
          extra: { non2xx: result.non2xx, errors: result.errors, timeouts: result.timeouts, nodeCores: cores.node, postgresCores: cores.postgres },
        })
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

/** Transfers of 0.01 between random funded wallets, each request with its own idempotency key. */
function load(url: string, connections: number, seconds: number, wallets: string[]): Promise<autocannon.Result> {
  return autocannon({
    url,
    connections,
    duration: seconds,
    method: 'POST',
    headers: { authorization: 'Bearer dev-backend-key', 'content-type': 'application/json' },
    requests: [
      {
        setupRequest: (req) => {
          const from = Math.floor(Math.random() * wallets.length)
          const to = (from + 1 + Math.floor(Math.random() * (wallets.length - 1))) % wallets.length
          return {
            ...req,
            headers: { ...req.headers, 'idempotency-key': randomUUID() },
            body: JSON.stringify({ sourceWalletId: wallets[from], destination: { type: 'wallet', walletId: wallets[to] }, amount: '0.01' }),
          }
        },
      },
    ],
  })
}
