import { randomUUID } from 'node:crypto'
import autocannon from 'autocannon'
import { round, type Check, type Measurement } from './report.ts'

export const key = 'Bearer dev-backend-key'

/** The connection levels of the HTTP benchmarks; `BENCH_HTTP_CONNECTIONS=32` measures only that level (profiling). */
export const httpConnections = (tiny: boolean): number[] => (tiny ? [2] : (process.env.BENCH_HTTP_CONNECTIONS?.split(',').map(Number) ?? [8, 32, 128]))

/** Measured seconds per subject and scenario of the HTTP benchmarks. */
export const httpSeconds = (tiny: boolean): number => (tiny ? 3 : Number(process.env.BENCH_SECONDS ?? 5))

/**
 * One autocannon run against one origin: `next()` gives each request its method, path, extra headers
 * and body (a fresh idempotency key, a round-robin resource).
 */
export function load(
  origin: string,
  options: {
    connections: number
    seconds: number
    next: () => { method: 'GET' | 'POST'; path: string; headers?: Record<string, string>; body?: string }
    /** Requests per second across all connections (open to the limit when omitted). */
    overallRate?: number
    /** Every response as it arrives (status, milliseconds), and every request error. */
    onResponse?: (status: number, ms: number) => void
    onError?: (error: unknown) => void
  },
): Promise<autocannon.Result> {
  return new Promise((resolve, reject) => {
    const instance = autocannon(
      {
        url: origin,
        connections: options.connections,
        duration: options.seconds,
        ...(options.overallRate === undefined ? {} : { overallRate: options.overallRate }),
        headers: { authorization: key },
        requests: [
          {
            setupRequest: (req) => {
              const r = options.next()
              return { ...req, method: r.method, path: r.path, headers: { ...req.headers, ...r.headers }, ...(r.body === undefined ? {} : { body: r.body }) }
            },
          },
        ],
      },
      (err, result) => (err ? reject(err) : resolve(result)),
    )
    const { onResponse, onError } = options
    if (onResponse) instance.on('response', (_client, status, _bytes, ms) => onResponse(status, ms))
    if (onError) instance.on('reqError', onError)
  })
}

/** An autocannon result as the report's measurement, and the check that every request answered 2xx. */
export function measured(subject: string, scenario: string, result: autocannon.Result): { measurement: Measurement; check: Check } {
  const ok = result['2xx']
  const errors = result.errors + result.timeouts + result.non2xx
  return {
    measurement: {
      subject,
      rate: round(ok / result.duration, 0),
      operations: ok,
      seconds: round(result.duration, 2),
      p50Ms: result.latency.p50,
      p99Ms: result.latency.p99,
      extra: { non2xx: result.non2xx, errors: result.errors, timeouts: result.timeouts },
    },
    check: {
      description: `${scenario}, ${subject}: every request answered 2xx`,
      ok: errors === 0 && ok > 0,
      detail: `2xx ${ok}, non-2xx ${result.non2xx}, errors ${result.errors}, timeouts ${result.timeouts}`,
    },
  }
}

/** A transfer of 0.01 between two random funded wallets, with its own idempotency key. */
export function transferRequest(wallets: string[], path = '/transfers') {
  const from = Math.floor(Math.random() * wallets.length)
  const to = (from + 1 + Math.floor(Math.random() * (wallets.length - 1))) % wallets.length
  return {
    method: 'POST' as const,
    path,
    headers: { 'content-type': 'application/json', 'idempotency-key': randomUUID() },
    body: JSON.stringify({ sourceWalletId: wallets[from], destination: { type: 'wallet', walletId: wallets[to] }, amount: '0.01' }),
  }
}
