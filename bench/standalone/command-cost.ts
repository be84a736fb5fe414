import { AsyncLocalStorage } from 'node:async_hooks'
import { randomUUID } from 'node:crypto'
import { subscribe } from 'node:diagnostics_channel'
import pg from 'pg'
import pino from 'pino'
import { benchServiceConfig } from '../lib/service-config.ts'
import { ROLES, startService } from '../../src/service.ts'
import { createBenchDatabase } from '../lib/database.ts'

/**
 * What one `POST /transfers` costs the database: every statement the process sends is counted
 * (by patching `pg`'s query submission), split into those issued while serving the request (the
 * request's own async context) and everything else (background roles), and each statement is
 * classed as a read, a commit (an explicit COMMIT, or a write outside a transaction, which commits
 * by itself) or other. Sequential requests between funded wallets, so figures are per request.
 *
 *   npm exec -- node bench/standalone/command-cost.ts          # every role in this process
 *   COST_ROLES=api,projections npm exec -- node bench/standalone/command-cost.ts
 *   COST_REQUESTS=200 ...                                       # default 100
 *   COST_CONCURRENCY=32 ...   # requests from 32 clients at once (16 wallets), as under load; default 1
 */
const serverUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'
const roles = (process.env.COST_ROLES?.split(',') ?? [...ROLES]) as (typeof ROLES)[number][]
const requests = Number(process.env.COST_REQUESTS ?? 100)
const concurrency = Number(process.env.COST_CONCURRENCY ?? 1)

interface Tally {
  statements: number
  reads: number
  commits: number
  byKind: Map<string, number>
}
const tally = (): Tally => ({ statements: 0, reads: 0, commits: 0, byKind: new Map() })
const inRequest = new AsyncLocalStorage<Tally>()
let background = tally()
let counting = false
// COST_DETAIL=1: also the most frequent statements (all contexts), by their first characters.
const detail = process.env.COST_DETAIL === '1'
const texts = new Map<string, number>()

// Only the measured requests: the embedded simulator and webhook deliveries are HTTP requests too.
subscribe('http.server.request.start', (message) => {
  const { request } = message as { request: { method?: string; url?: string } }
  if (counting && request.method === 'POST' && request.url === '/transfers') inRequest.enterWith(current)
})
let current = tally()

// Per client: inside an explicit transaction or not.
const inTransaction = new WeakSet<pg.Client>()
const submit = pg.Client.prototype.query
pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
  const config = args[0]
  const text = (typeof config === 'string' ? config : (config as { text?: string } | undefined)?.text ?? '').trim()
  const word = text.split(/\s+/, 1)[0]!.toUpperCase()
  if (counting) {
    const t = inRequest.getStore() ?? background
    t.statements++
    const kind = /append_batch/.test(text) ? 'append_batch' : /^(WITH|SELECT)$/.test(word) && !/\b(INSERT|UPDATE|DELETE)\b/i.test(text) ? `SELECT` : word
    t.byKind.set(kind, (t.byKind.get(kind) ?? 0) + 1)
    if (detail) texts.set(text.slice(0, 110).replace(/\s+/g, ' '), (texts.get(text.slice(0, 110).replace(/\s+/g, ' ')) ?? 0) + 1)
    if (word === 'BEGIN') inTransaction.add(this)
    else if (word === 'COMMIT' || word === 'ROLLBACK') {
      inTransaction.delete(this)
      if (word === 'COMMIT') t.commits++
    } else if (kind === 'SELECT') t.reads++
    else if (!inTransaction.has(this) && word !== 'LISTEN') t.commits++
  }
  return (submit as (...a: unknown[]) => unknown).apply(this, args)
} as typeof pg.Client.prototype.query

const db = await createBenchDatabase(serverUrl, 'cost')
const config = benchServiceConfig(db.url)
const service = await startService(config, roles.includes('api') ? roles : [...roles, 'api'], pino({ level: 'silent' }))
const url = service.url!
const call = async (method: string, path: string, body?: unknown) => {
  const res = await fetch(url + path, {
    method,
    headers: { authorization: 'Bearer dev-backend-key', 'content-type': 'application/json', 'idempotency-key': randomUUID() },
    body: body === undefined ? undefined : JSON.stringify(body),
  })
  return { status: res.status, json: (await res.json()) as Record<string, unknown> }
}
const until = async (probe: () => Promise<boolean>) => {
  const deadline = Date.now() + 60_000
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error('timed out (does this role set activate wallets? it needs the process manager)')
    await new Promise((r) => setTimeout(r, 50))
  }
}

try {
  const wallets: string[] = []
  for (let i = 0; i < (concurrency > 1 ? 16 : 2); i++) wallets.push((await call('POST', '/wallets', { ownerId: `cost-${i}` })).json.id as string)
  for (const id of wallets) await until(async () => (await call('GET', `/wallets/${id}`)).json.status === 'active')
  for (const id of wallets) await call('POST', '/mint', { walletId: id, amount: '1000' })
  for (const id of wallets) await until(async () => ((await call('GET', `/wallets/${id}`)).json.balances as { available?: string }).available === '1000.00')
  await new Promise((r) => setTimeout(r, 500))

  const latencies: number[] = []
  counting = true
  let next = 0
  const client = async () => {
    for (let i = next++; i < requests; i = next++) {
      const started = performance.now()
      const [from, to] = [wallets[i % wallets.length], wallets[(i + 1) % wallets.length]]
      const res = await call('POST', '/transfers', { sourceWalletId: from, destination: { type: 'wallet', walletId: to }, amount: '0.01' })
      latencies.push(performance.now() - started)
      if (res.status !== 202 && res.status !== 200) throw new Error(`POST /transfers answered ${res.status}: ${JSON.stringify(res.json)}`)
    }
  }
  await Promise.all(Array.from({ length: concurrency }, client))
  // Let the background work of the last transfers finish before the count stops.
  await new Promise((r) => setTimeout(r, concurrency > 1 ? 20_000 : 2000))
  counting = false

  const per = (n: number) => (n / requests).toFixed(2)
  const row = (label: string, t: Tally) =>
    `| ${label} | ${per(t.statements)} | ${per(t.reads)} | ${per(t.commits)} | ${[...t.byKind].sort((a, b) => b[1] - a[1]).map(([k, n]) => `${k} ${per(n)}`).join(', ')} |`
  latencies.sort((a, b) => a - b)
  const q = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))]!.toFixed(2)
  console.log(`roles: ${roles.join(',')}; ${requests} POST /transfers from ${concurrency} client(s); latency p50 ${q(0.5)} ms, p90 ${q(0.9)} ms, p99 ${q(0.99)} ms`)
  console.log('| statements per POST /transfers | all | reads | commits | by kind |')
  console.log('|---|---:|---:|---:|---|')
  console.log(row('serving the request', current))
  console.log(row('background roles', background))
  if (detail) for (const [text, n] of [...texts].sort((a, b) => b[1] - a[1]).slice(0, 30)) console.log(per(n).padStart(7), text)
} finally {
  await service.stop()
  await db.drop()
}
