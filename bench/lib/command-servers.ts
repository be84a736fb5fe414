import { randomUUID } from 'node:crypto'
import Fastify from 'fastify'
import { serializerCompiler, validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod'
import pino from 'pino'
import { z } from 'zod'
import { benchServiceConfig } from './service-config.ts'
import { createPool } from '../../src/adapters/postgres/database.ts'
import { ROLES, startService, type Role } from '../../src/service.ts'

/**
 * A child process of the commands and reads benchmarks, so that the servers do not share an event
 * loop with the load generator: the whole service (every role, embedded Circle simulator) and, on
 * the same database server, the bare ceiling route. Reports its URLs and funded wallets over IPC,
 * restarts the service with other roles on `{ roles }`, stops on 'stop'. DATABASE_URL and BENCH_WALLETS come from the parent.
 */
const databaseUrl = process.env.DATABASE_URL!
const wallets = Number(process.env.BENCH_WALLETS ?? 16)
const key = 'Bearer dev-backend-key'

const config = benchServiceConfig(databaseUrl, { admission: process.env.BENCH_ADMISSION !== 'off' })
let service = await startService(config, [...ROLES], pino({ level: 'silent' }))
const serviceUrl = service.url!

const pool = createPool(databaseUrl, 20)
await pool.query('CREATE TABLE bare_transfers (id uuid PRIMARY KEY, body jsonb NOT NULL, created_at timestamptz NOT NULL DEFAULT now())')
const bare = Fastify({ logger: false }).withTypeProvider<ZodTypeProvider>()
bare.setValidatorCompiler(validatorCompiler)
bare.setSerializerCompiler(serializerCompiler)
const transferBody = z.object({
  sourceWalletId: z.uuid(),
  destination: z.object({ type: z.literal('wallet'), walletId: z.uuid() }),
  amount: z.string().regex(/^\d+(\.\d{1,6})?$/),
})
bare.post('/bare/transfers', { schema: { body: transferBody } }, async (req, reply) => {
  const id = randomUUID()
  await pool.query('INSERT INTO bare_transfers (id, body) VALUES ($1, $2)', [id, JSON.stringify(req.body)])
  return reply.code(202).send({ id, ...req.body, status: 'pending' })
})
bare.get('/bare/transfers/:id', { schema: { params: z.object({ id: z.uuid() }) } }, async (req, reply) => {
  const res = await pool.query<{ id: string; body: object }>('SELECT id, body FROM bare_transfers WHERE id = $1', [req.params.id])
  const row = res.rows[0]
  return row ? { id: row.id, ...row.body } : reply.code(404).send({ error: { code: 'not_found', message: 'no such transfer' } })
})
const bareUrl = await bare.listen({ port: 0, host: '127.0.0.1' })

async function call(method: string, path: string, body?: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(serviceUrl + path, {
    method,
    headers: { authorization: key, 'content-type': 'application/json', 'idempotency-key': randomUUID() },
    body: body === undefined ? undefined : JSON.stringify(body),
  })
  return { status: res.status, json: (await res.json()) as Record<string, unknown> }
}

async function until(what: string, probe: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 60_000
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

// Funded the way a client would: create, wait until active, mint, wait until credited.
const ids: string[] = []
for (let i = 0; i < wallets; i++) {
  const created = await call('POST', '/wallets', { ownerId: `bench-${i}` })
  if (created.status >= 300) throw new Error(`POST /wallets answered ${created.status}`)
  ids.push(created.json.id as string)
}
for (const id of ids) await until(`wallet ${id} active`, async () => (await call('GET', `/wallets/${id}`)).json.status === 'active')
for (const id of ids) {
  const minted = await call('POST', '/mint', { walletId: id, amount: '10000' })
  if (minted.status >= 300) throw new Error(`POST /mint answered ${minted.status}: ${JSON.stringify(minted.json)}`)
}
for (const id of ids) {
  await until(`wallet ${id} funded`, async () => {
    const balances = (await call('GET', `/wallets/${id}`)).json.balances as { available?: string } | undefined
    return balances?.available === '10000.00'
  })
}

// Rows for the bare GET, one per wallet, shaped like a transfer.
const bareIds: string[] = []
for (const [i, id] of ids.entries()) {
  const bareId = randomUUID()
  bareIds.push(bareId)
  const body = { sourceWalletId: id, destination: { type: 'wallet', walletId: ids[(i + 1) % ids.length] }, amount: '0.01' }
  await pool.query('INSERT INTO bare_transfers (id, body) VALUES ($1, $2)', [bareId, JSON.stringify(body)])
}

process.send!({ serviceUrl, bareUrl, wallets: ids, bareIds })
process.on('message', (message) => {
  if (typeof message === 'object' && message !== null && 'roles' in message) {
    // The service again on the same database with only these roles, at a new URL.
    void (async () => {
      await service.stop()
      service = await startService(config, (message as { roles: Role[] }).roles, pino({ level: 'silent' }))
      process.send!({ restarted: service.url })
    })()
  }
  if (message === 'cpu') process.send!({ cpu: process.cpuUsage() })
  if (message === 'memory') process.send!({ memory: process.memoryUsage() })
  if (message === 'stop') void stop()
})
// A benchmark that dies without saying 'stop' (killed, or its output pipe closed) takes its servers
// with it: otherwise they would go on polling the embedded Circle and holding their connections.
process.on('disconnect', () => void stop())

let stopping: Promise<void> | undefined
function stop(): Promise<void> {
  stopping ??= (async () => {
    await bare.close()
    await pool.end()
    await service.stop()
    process.exit(0)
  })()
  return stopping
}
