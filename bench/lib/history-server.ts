import { randomUUID } from 'node:crypto'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import pino from 'pino'
import { PostgresEventStore } from '../../src/adapters/event-store/postgres.ts'
import { createPool } from '../../src/adapters/postgres/database.ts'
import { loadConfig } from '../../src/config.ts'
import type { NewEvent } from '../../src/events/event-store.ts'
import { parseCircleAmount } from '../../src/events/money.ts'
import { ROLES, startService } from '../../src/service.ts'

/**
 * Child process of the history benchmark, in two phases on one database. `build`: the whole service
 * makes a long wallet and a fresh one, funded through the API, and appends BENCH_HISTORY events to
 * the long one; it reports their ids and exits. `serve`: a new service process on the same database
 * (so nothing of the build's allocations or caches is left: the first command on the long wallet
 * loads it cold), talking to Circle over HTTP as in production (the parent
 * runs the simulator on the build's durable state), serves the measurement, with the event loop's delay
 * measured in here, where a fold would block; 'reset' and 'delay' messages read the monitor, 'stop'
 * ends it.
 */
const databaseUrl = process.env.DATABASE_URL!
const historyEvents = Number(process.env.BENCH_HISTORY ?? 50_000)
const key = 'Bearer dev-backend-key'
const log = (line: string) => process.stderr.write(`history: ${line}\n`)

const config = loadConfig({
  ...(process.env.CIRCLE_BASE_URL
    ? { CIRCLE_API_KEY: process.env.CIRCLE_API_KEY, CIRCLE_BASE_URL: process.env.CIRCLE_BASE_URL, CARD_ISSUER_URL: process.env.CARD_ISSUER_URL, CARD_ISSUER_API_KEY: process.env.CARD_ISSUER_API_KEY }
    : {}),
  DATABASE_URL: databaseUrl,
  PORT: '0',
  HOST: '127.0.0.1',
  LOG_LEVEL: 'silent',
  RATE_LIMIT_MAX: '100000000',
  SIMULATOR_SETTLE_MS: '0',
  // The embedded simulator signs every webhook in this process; SNS's RSA signatures would be the
  // simulator's cost, not the ledger's, so it delivers the v2 (ECDSA) scheme only here.
  SIMULATOR_WEBHOOKS: process.env.SIMULATOR_WEBHOOKS ?? 'v2',
  CIRCLE_RATE_PER_SECOND: '1000',
})
const phase = process.env.BENCH_PHASE === 'serve' ? 'serve' : 'build'
const service = await startService(config, [...ROLES], pino({ level: 'silent' }))
const url = service.url!

async function call(method: string, path: string, body?: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(url + path, {
    method,
    headers: { authorization: key, 'content-type': 'application/json', 'idempotency-key': randomUUID() },
    body: body === undefined ? undefined : JSON.stringify(body),
  })
  return { status: res.status, json: (await res.json()) as Record<string, unknown> }
}

async function until(what: string, probe: () => Promise<boolean>, ms = 600_000): Promise<void> {
  const deadline = Date.now() + ms
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

const available = async (id: string) => parseCircleAmount(((await call('GET', `/wallets/${id}`)).json.balances as { available: string }).available)
const funded = async (ownerId: string) => {
  const id = (await call('POST', '/wallets', { ownerId })).json.id as string
  await until(`wallet ${id} active`, async () => (await call('GET', `/wallets/${id}`)).json.status === 'active')
  await call('POST', '/mint', { walletId: id, amount: '100000' })
  await until(`wallet ${id} funded`, async () => (await available(id)) === 100_000_000_000n)
  return id
}
if (phase === 'build') {
  const long = await funded('history-long')
  const fresh = await funded('history-fresh')

  // The long history: reservations each consumed by a debit, as transfers leave them, appended in
  // chunks straight to the store (the API would take hours to make 50,000 events).
  const pool = createPool(databaseUrl, 4)
  const store = new PostgresEventStore(pool)
  const stream = `wallet-${long}`
  let revision = (await store.readStream(stream, { direction: 'backwards', maxCount: 1 }))[0]!.revision
  const metadata = { correlationId: randomUUID(), causationId: randomUUID(), actor: 'bench', occurredAt: new Date().toISOString() }
  let written = 0
  while (written < historyEvents) {
    const events: NewEvent[] = []
    for (let i = 0; i < 1000 && written + events.length < historyEvents; i += 2) {
      const operationId = randomUUID()
      events.push({ id: randomUUID(), type: 'FundsReserved', data: { walletId: long, operationId, amount: '1' }, metadata })
      events.push({ id: randomUUID(), type: 'FundsDebited', data: { walletId: long, operationId, amount: '1' }, metadata })
    }
    const r = await store.append(stream, events, { expected: revision })
    revision = r.revision
    written += events.length
    if (written % 10_000 === 0) log(`${written} of ${historyEvents} events appended to the long wallet`)
  }
  const debited = BigInt(written / 2)
  const expectedAvailable = 100_000_000_000n - debited
  await until('the read models to include the long history', async () => (await available(long)) === expectedAvailable)
  // Every other subscriber (journal, audit log, notifier, process manager) digests the history here
  // too, as a running service would have while it was written: the measurement must not include a
  // 50,000-event backlog being caught up in the background.
  const head = await store.head()
  await until('every subscriber to reach the head', async () => {
    const rows = await pool.query<{ behind: string }>('SELECT count(*) AS behind FROM checkpoints WHERE position IS NULL OR position::bigint < $1::bigint', [head])
    return rows.rows[0]?.behind === '0'
  })
  await store.close()
  await pool.end()
  log(`long wallet ${long} has ${revision + 1} events; fresh wallet ${fresh}`)
  process.send!({ long, fresh, events: revision + 1 })
  await service.stop()
  process.exit(0)
}

const histogram = monitorEventLoopDelay({ resolution: 10 })
histogram.enable()
process.send!({ url })
process.on('message', (message) => {
  if (message === 'reset') histogram.reset()
  else if (message === 'delay') process.send!({ maxDelayMs: histogram.max / 1e6, p99DelayMs: histogram.percentile(99) / 1e6 })
  else if (message === 'stop')
    void service.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    )
})
