import { AsyncLocalStorage } from 'node:async_hooks'
import { randomInt, randomUUID } from 'node:crypto'
import { subscribe } from 'node:diagnostics_channel'
import pg from 'pg'
import pino from 'pino'
import { benchServiceConfig } from '../lib/service-config.ts'
import { PostgresEventStore } from '../../src/adapters/event-store/postgres.ts'
import { createDb, createPool } from '../../src/adapters/postgres/database.ts'
import { countDueTasks } from '../../src/process-manager/tasks.ts'
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
 *   COST_CONCURRENCY=32 ...   # 32 clients at once, as the commands benchmark sends them; default 1
 *
 * With COST_CONCURRENCY above 1 the run is set up as the commands benchmark's: 64 wallets, each
 * transfer between two random distinct ones, admission control off; the count stops once the
 * process manager has no task due and nothing has been appended for 3 s. Under
 * concurrency the split between "serving the request" and "background" is approximate: a group
 * commit runs in the async context of the append that started its batch, whoever else's appends
 * it carries. The total per transfer is exact.
 */
const serverUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'
const roles = (process.env.COST_ROLES?.split(',') ?? [...ROLES]) as (typeof ROLES)[number][]
const requests = Number(process.env.COST_REQUESTS ?? 100)
const concurrency = Number(process.env.COST_CONCURRENCY ?? 1)
if (!Number.isSafeInteger(requests) || requests < 1) throw new Error(`COST_REQUESTS must be a positive integer, not ${process.env.COST_REQUESTS}`)
if (!Number.isSafeInteger(concurrency) || concurrency < 1) throw new Error(`COST_CONCURRENCY must be a positive integer, not ${process.env.COST_CONCURRENCY}`)
const underLoad = concurrency > 1

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
// The count's own probes (backgroundDone), left out.
const uncounted = new WeakSet<pg.Client>()
const submit = pg.Client.prototype.query
pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
  const config = args[0]
  const text = (typeof config === 'string' ? config : (config as { text?: string } | undefined)?.text ?? '').trim()
  const word = text.split(/\s+/, 1)[0]!.toUpperCase()
  if (counting && !uncounted.has(this)) {
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

/**
 * Under load the process manager falls behind (the benchmark's backlog): waits until it has no task
 * due and nothing has been appended for 3 s. Asked on a pool of its own whose statements are not counted.
 */
async function backgroundDone(): Promise<void> {
  const probes = createPool(db.url, 1)
  probes.on('connect', (client) => uncounted.add(client))
  const log = new PostgresEventStore(probes)
  const tasks = createDb(probes)
  try {
    const deadline = Date.now() + 300_000
    let head: string | undefined
    let quietSince = Date.now()
    for (;;) {
      const [due, now] = [await countDueTasks(tasks), await log.head()]
      if (due !== 0 || now !== head) quietSince = Date.now()
      head = now
      if (Date.now() - quietSince >= 3000) return
      if (Date.now() > deadline) throw new Error(`the background work did not settle within 300 s (${due} tasks due)`)
      await new Promise((r) => setTimeout(r, 500))
    }
  } finally {
    await log.close()
    await probes.end()
  }
}

const db = await createBenchDatabase(serverUrl, 'cost')
const config = benchServiceConfig(db.url, { admission: !underLoad })
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
  for (let i = 0; i < (underLoad ? 64 : 2); i++) wallets.push((await call('POST', '/wallets', { ownerId: `cost-${i}` })).json.id as string)
  for (const id of wallets) await until(async () => (await call('GET', `/wallets/${id}`)).json.status === 'active')
  for (const id of wallets) await call('POST', '/mint', { walletId: id, amount: '1000' })
  for (const id of wallets) await until(async () => ((await call('GET', `/wallets/${id}`)).json.balances as { available?: string }).available === '1000.00')
  await new Promise((r) => setTimeout(r, 500))

  const latencies: number[] = []
  counting = true
  let next = 0
  let failed = false
  const client = async () => {
    for (let i = next++; i < requests && !failed; i = next++) {
      const started = performance.now()
      // Sequential: between the two wallets in turn. Under load: two random distinct wallets, as autocannon sends them in the benchmark.
      const a = underLoad ? randomInt(wallets.length) : i % 2
      const b = underLoad ? (a + 1 + randomInt(wallets.length - 1)) % wallets.length : (i + 1) % 2
      const [from, to] = [wallets[a], wallets[b]]
      const res = await call('POST', '/transfers', { sourceWalletId: from, destination: { type: 'wallet', walletId: to }, amount: '0.01' })
      latencies.push(performance.now() - started)
      if (res.status !== 202 && res.status !== 200) {
        failed = true
        throw new Error(`POST /transfers answered ${res.status}: ${JSON.stringify(res.json)}`)
      }
    }
  }
  await Promise.all(Array.from({ length: concurrency }, client))
  // Let the background work of the last transfers finish before the count stops.
  if (underLoad) await backgroundDone()
  await new Promise((r) => setTimeout(r, 2000))
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
