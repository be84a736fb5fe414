import { spawn, type ChildProcess } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { once } from 'node:events'
import path from 'node:path'
import { createInterface } from 'node:readline'
import { setTimeout as sleep } from 'node:timers/promises'
import t, { type Test } from 'tap'
import { createPool } from '../src/adapters/postgres/database.ts'
import { freshDatabaseUrl } from './helpers/database.ts'

/**
 * Two full instances of `npm start` (every role, the embedded Circle simulator durable in the
 * shared database) side by side on one database, load through both, the instance holding the
 * process-manager lease SIGKILLed halfway. Child processes, so the kill is a real crash.
 */
const root = path.resolve(import.meta.dirname, '..')
const LEASE_RETRY_MS = 500

interface Instance {
  name: string
  child: ChildProcess
  url: string
  alive: boolean
}

async function startInstance(t: Test, name: string, databaseUrl: string): Promise<Instance> {
  const child = spawn(process.execPath, ['src/main.ts'], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'inherit'],
    env: {
      PATH: process.env.PATH,
      DATABASE_URL: databaseUrl,
      PORT: '0',
      HOST: '127.0.0.1',
      LOG_LEVEL: 'info',
      PGAPPNAME: name,
      NATS_URL: process.env.NATS_URL ?? 'nats://127.0.0.1:4222',
      SIMULATOR_SETTLE_MS: '20',
      CIRCLE_POLL_INTERVAL_MS: '100',
      CIRCLE_RATE_PER_SECOND: '1000',
      CIRCLE_TIMEOUT_MS: '3000',
      IDEMPOTENCY_LOCK_SECONDS: '5',
      LEASE_RETRY_MS: String(LEASE_RETRY_MS),
      RATE_LIMIT_MAX: '100000',
    },
  })
  t.teardown(() => void child.kill('SIGKILL'))
  const lines = createInterface({ input: child.stdout! })
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} did not start`)), 30_000)
    lines.on('line', (line) => {
      try {
        const entry = JSON.parse(line) as { msg?: string; url?: string }
        if (entry.msg === 'circle-ledger started' && entry.url) {
          clearTimeout(timer)
          resolve(entry.url)
        }
      } catch {
        // not a log line
      }
    })
    child.once('exit', (code) => reject(new Error(`${name} exited with ${code}`)))
  })
  const instance: Instance = { name, child, url, alive: true }
  child.once('exit', () => (instance.alive = false))
  return instance
}

type Kind = 'wallet' | 'bank' | 'mint' | 'transfer' | 'chain' | 'redeem' | 'address' | 'card'
interface Operation {
  kind: Kind
  path: string
  body: object
  key: string
  /** The instance the load balancer sent it to first. */
  via: number
  id?: string
  /** Where to read it, and the status that means done. */
  read?: string
}

const headers = { authorization: 'Bearer dev-backend-key', 'content-type': 'application/json' }

t.test('two instances on one database: every operation completes exactly once, one worker active, the survivor takes over', async (t) => {
  const databaseUrl = freshDatabaseUrl(t, 'cl_two')
  const a = await startInstance(t, 'instance-a', databaseUrl)
  const b = await startInstance(t, 'instance-b', databaseUrl)
  const instances = [a, b]
  // The project's pool: its idle clients may lose their server when the teardown drops the database
  // (WITH FORCE) before this pool ends, which a bare pg.Pool turns into an uncaught error.
  const db = createPool(databaseUrl, 2)
  t.teardown(() => db.end())

  // Which instance holds each advisory-lock lease, sampled through the run. The embedded simulators'
  // units of work share their state lock by design: that one key is left out.
  const leaseHolders = async () =>
    (
      await db.query<{ key: string; holders: string[] }>(`
        SELECT l.classid::text || ':' || l.objid::text AS key, array_agg(DISTINCT a.application_name) AS holders
        FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
        WHERE l.locktype = 'advisory' AND l.granted AND a.application_name LIKE 'instance-%'
          AND l.classid::text || ':' || l.objid::text <> (
            SELECT ((h >> 32) & 4294967295)::text || ':' || (h & 4294967295)::text FROM (SELECT hashtextextended('circle_sim.state', 0) AS h) s)
        GROUP BY 1`)
    ).rows
  const pmLeaseKey = (
    await db.query<{ key: string }>(
      `SELECT ((h >> 32) & 4294967295)::text || ':' || (h & 4294967295)::text AS key FROM (SELECT hashtextextended('process-manager', 0) AS h) s`,
    )
  ).rows[0]!.key
  const samples: { key: string; holders: string[] }[][] = []
  let sampling = true
  const sampler = (async () => {
    while (sampling) {
      samples.push(await leaseHolders().catch(() => []))
      await sleep(100)
    }
  })()

  /** A client behind a load balancer: its instance, or the other one when it is gone; 409/503 retried with the same key. */
  async function send(op: Operation): Promise<void> {
    let target = op.via
    for (let attempt = 0; attempt < 200; attempt++) {
      const instance = instances[target]!
      if (!instance.alive) target = 1 - target
      try {
        const res = await fetch(`${instances[target]!.url}${op.path}`, { method: 'POST', headers: { ...headers, 'idempotency-key': op.key }, body: JSON.stringify(op.body) })
        const body = (await res.json()) as { id?: string; error?: { code: string } }
        if (res.status === 202 || res.status === 201 || res.status === 200) {
          op.id = body.id!
          return
        }
        if (res.status !== 409 && res.status !== 503) throw new Error(`${op.kind} ${op.path}: ${res.status} ${JSON.stringify(body)}`)
      } catch (err) {
        if (err instanceof Error && err.message.startsWith(op.kind)) throw err
        target = 1 - target // connection refused or reset: the other instance
      }
      await sleep(200)
    }
    throw new Error(`${op.kind} never accepted`)
  }
  const get = async (p: string) => {
    const alive = instances.find((i) => i.alive)!
    const res = await fetch(`${alive.url}${p}`, { headers })
    return (await res.json()) as { status?: string }
  }
  const terminal = { wallet: 'active', bank: 'active', address: 'active', card: 'active', mint: 'completed', transfer: 'completed', chain: 'completed', redeem: 'completed' } as const
  async function settled(ops: Operation[], ms = 60_000) {
    const deadline = Date.now() + ms
    const open = new Set(ops)
    while (open.size > 0 && Date.now() < deadline) {
      for (const op of [...open]) {
        const status = (await get(op.read ?? '')).status
        if (status === terminal[op.kind] || status === 'failed') open.delete(op)
      }
      if (open.size > 0) await sleep(200)
    }
    return open.size
  }
  const runAll = async (ops: Operation[], concurrency = 8) => {
    const queue = [...ops]
    await Promise.all(Array.from({ length: concurrency }, async () => {
      for (let op = queue.shift(); op; op = queue.shift()) await send(op)
    }))
  }
  let n = 0
  const op = (kind: Kind, path: string, body: object): Operation => ({ kind, path, body, key: randomUUID(), via: n++ % 2 })

  // Set-up, through both instances: wallets and bank accounts, then a first mint into each wallet.
  const wallets = Array.from({ length: 12 }, (_, i) => op('wallet', '/wallets', { ownerId: `owner-${i % 2}` }))
  const banks = [0, 1].map((i) =>
    op('bank', '/bank-accounts', { ownerId: `owner-${i}`, accountNumber: '12340010', routingNumber: '121000248', billingDetails: { name: 'Ada', line1: '1 Main St', city: 'Boston', postalCode: '02201', country: 'US', district: 'MA' }, bankAddress: { country: 'US' } }),
  )
  await runAll([...wallets, ...banks])
  for (const w of wallets) w.read = `/wallets/${w.id}`
  for (const bank of banks) bank.read = `/bank-accounts/${bank.id}`
  t.equal(await settled([...wallets, ...banks]), 0, 'wallets and bank accounts active')
  const seed = wallets.map((w) => op('mint', '/mint', { walletId: w.id, amount: '100.00' }))
  await runAll(seed)
  for (const m of seed) m.read = `/mints/${m.id}`
  t.equal(await settled(seed), 0, 'seed mints completed')

  // The mixed load; 174 more, for 200 in all.
  const w = (i: number) => wallets[i % wallets.length]!.id!
  const mixed: Operation[] = [
    ...Array.from({ length: 46 }, (_, i) => op('mint', '/mint', { walletId: w(i), amount: '5.00' })),
    ...Array.from({ length: 46 }, (_, i) => op('transfer', '/transfers', { sourceWalletId: w(i), destination: { type: 'wallet', walletId: w(i + 1) }, amount: '1.00' })),
    ...Array.from({ length: 24 }, (_, i) => op('chain', '/transfers', { sourceWalletId: w(i), destination: { type: 'blockchain', chain: 'ETH', address: '0x8381470ED67C3802402dbbFa0058E8871F017A6F' }, amount: '1.00' })),
    ...Array.from({ length: 24 }, (_, i) => op('redeem', '/redeem', { walletId: w(i * 2 + (i % 2)), bankAccountId: banks[i % 2]!.id, amount: '2.00' })),
    ...Array.from({ length: 18 }, (_, i) => op('address', '/wallets/address', { walletId: w(i), chain: i % 2 ? 'SOL' : 'BASE' })),
    ...Array.from({ length: 16 }, (_, i) => op('card', '/cards', { walletId: w(i), cardholderName: `Holder ${i}` })),
  ].sort(() => Math.random() - 0.5)
  t.equal(wallets.length + banks.length + seed.length + mixed.length, 200, '200 operations')

  const half = mixed.slice(0, mixed.length / 2)
  const rest = mixed.slice(mixed.length / 2)
  await runAll(half)
  // Halfway: kill the instance whose process manager is active, while its work is in flight.
  const holder = (await leaseHolders()).find((l) => l.key === pmLeaseKey)?.holders[0]
  t.ok(holder, `the process-manager lease is held (by ${holder})`)
  const victim = instances.find((i) => i.name === holder)!
  const survivor = instances.find((i) => i !== victim)!
  const killedAt = Date.now()
  victim.child.kill('SIGKILL')
  await once(victim.child, 'exit')
  const sending = runAll(rest)
  let tookOverMs: number | undefined
  while (Date.now() - killedAt < 20_000) {
    if ((await leaseHolders()).find((l) => l.key === pmLeaseKey)?.holders.includes(survivor.name)) {
      tookOverMs = Date.now() - killedAt
      break
    }
    await sleep(50)
  }
  t.ok(tookOverMs !== undefined && tookOverMs <= LEASE_RETRY_MS + 2000, `${survivor.name} took the process manager over ${tookOverMs} ms after the kill (lease retry ${LEASE_RETRY_MS} ms)`)
  await sending

  const readOf: Record<Kind, (o: Operation) => string> = {
    wallet: (o) => `/wallets/${o.id}`,
    bank: (o) => `/bank-accounts/${o.id}`,
    mint: (o) => `/mints/${o.id}`,
    transfer: (o) => `/transfers/${o.id}`,
    chain: (o) => `/transfers/${o.id}`,
    redeem: (o) => `/redeems/${o.id}`,
    address: (o) => `/wallets/${(o.body as { walletId: string }).walletId}/addresses/${o.id}`,
    card: (o) => `/cards/${o.id}`,
  }
  for (const o of mixed) o.read = readOf[o.kind](o)
  t.equal(await settled(mixed, 90_000), 0, 'every operation is terminal')
  const everything = [...wallets, ...banks, ...seed, ...mixed]
  const statuses = await Promise.all(everything.map(async (o) => (await get(o.read!)).status))
  const failed = everything.filter((_, i) => statuses[i] === 'failed').map((o) => o.kind)
  t.same(failed, [], 'and none failed')
  t.equal(new Set(everything.map((o) => o.id)).size, 200, 'exactly one operation per request, retries and failovers included')

  // One Circle resource per step: the simulator's record of every idempotency key it bound.
  const circle = Object.fromEntries(
    (await db.query<{ kind: string; n: string }>(`SELECT data->>'kind' AS kind, count(*) AS n FROM circle_sim.documents WHERE collection = 'idempotency' GROUP BY 1`)).rows.map((r) => [r.kind, Number(r.n)]),
  )
  t.same(
    circle,
    { wallet: 12, wire: 2, address: 18, card: 16, transfer: 12 + 46 + 46 + 24 + 24, payout: 24 },
    'one Circle resource per step: wallets, wires, addresses, cards, transfers (mints, transfers, redeem step 1), payouts',
  )

  const caughtUp = async () => {
    const head = (await db.query<{ head: string | null }>('SELECT max(position)::text AS head FROM events')).rows[0]!.head
    const checkpoints = (await db.query<{ name: string; position: string | null }>('SELECT name, position FROM checkpoints')).rows
    const tasks = Number((await db.query<{ n: string }>('SELECT count(*) AS n FROM pm_tasks WHERE NOT done')).rows[0]!.n)
    return { head, checkpoints, tasks }
  }
  let state = await caughtUp()
  // Up to 75 s: a task polling Circle while webhooks arrive looks again within 60 s (CIRCLE_POLL_INTERVAL_WITH_WEBHOOKS_MS).
  for (let i = 0; i < 750 && (state.tasks > 0 || state.checkpoints.some((c) => c.position !== state.head)); i++) {
    await sleep(100)
    state = await caughtUp()
  }
  if (state.tasks > 0) {
    const left = await db.query(`SELECT stream, kind, done, due_at, locked_until, attempts, last_error FROM pm_tasks WHERE NOT done`)
    t.comment(`tasks left: ${JSON.stringify(left.rows)}`)
  }
  t.ok(state.checkpoints.length > 0, `checkpoints: ${state.checkpoints.map((c) => c.name).join(', ')}`)
  for (const c of state.checkpoints) t.equal(c.position, state.head, `checkpoint ${c.name} caught up with the head`)
  t.equal(state.tasks, 0, 'no process-manager task left')

  sampling = false
  await sampler
  const doubled = samples.flat().filter((l) => l.holders.length > 1)
  t.same(doubled, [], `each lease was held by one instance at a time (${samples.length} samples)`)
  t.ok(samples.some((s) => s.some((l) => l.key === pmLeaseKey && l.holders[0] === victim.name)), 'the process manager ran in the killed instance before')
  t.ok(samples.some((s) => s.some((l) => l.key === pmLeaseKey && l.holders[0] === survivor.name)), 'and in the survivor after')
})
