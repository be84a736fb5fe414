import pino from 'pino'
import type { Test } from 'tap'
import { CardIssuerError, type CardIssuer } from '../../src/adapters/card-issuer/port.ts'
import type { CirclePort } from '../../src/adapters/circle/port.ts'
import { SNS_TOPIC_ARN } from '../../src/adapters/circle/simulator/webhooks.ts'
import type { SimulatorOptions } from '../../src/adapters/circle/simulator/simulator.ts'
import { ProcessManager } from '../../src/process-manager/process-manager.ts'
import { CirclePublicKeys } from '../../src/webhooks/public-keys.ts'
import { SnsCertificates } from '../../src/webhooks/sns.ts'
import { WebhookVerifier } from '../../src/webhooks/verify.ts'
import { WebhookWorker } from '../../src/webhooks/worker.ts'
import { auth } from './app.ts'
import { simulatedCircle, until } from './circle.ts'
import { httpHarness } from './http.ts'

export interface FlowOptions {
  simulator?: SimulatorOptions
  /** Schemes the simulator delivers to our /webhook; empty = polling only. */
  webhooks?: { version: 'v1' | 'v2'; signatureVersion?: '1' | '2' }[]
  /** Process-manager poll interval; an hour = polling disabled for the test's length. */
  pollMs?: number
  webhookMaxAttempts?: number
  taskMaxAttempts?: number
  /** Wraps the card issuer (e.g. to take it down). */
  issuer?: (issuer: CardIssuer) => CardIssuer
  webhookBackoff?: { pollMs: number; windowMs: number }
  /** Wraps the Circle port the process manager uses (e.g. to refuse one call). */
  circle?: (circle: CirclePort) => CirclePort
}

/**
 * The whole flow on real ports: the simulator, the API (listening, so the simulator can deliver to
 * its /webhook), read models, the process manager and the webhook worker, all on one test database.
 */
export async function webhookFlow(t: Test, options: FlowOptions = {}) {
  const circle = await simulatedCircle(t, { settleMs: 20, ...options.simulator })
  const issuer = options.issuer ? options.issuer(circle.issuer) : circle.issuer
  const logger = pino({ level: 'silent' })
  const holder: { worker?: WebhookWorker } = {}
  const verifier = new WebhookVerifier({
    publicKeys: new CirclePublicKeys({ baseUrl: circle.url, apiKey: 'SIM_KEY' }),
    certificates: new SnsCertificates(),
    snsTopicArns: [SNS_TOPIC_ARN],
    snsExtraOrigins: [new URL(circle.url).origin],
  })
  const h = await httpHarness(t, {
    circle: circle.circle,
    webhooks: { verifier, rateLimit: { max: 1_000_000, windowMs: 60_000 }, onStored: () => holder.worker?.notify() },
  })
  const address = await h.app.listen({ port: 0, host: '127.0.0.1' })
  for (const w of options.webhooks ?? [{ version: 'v2' as const }]) {
    const res = await fetch(`${circle.url}/sim/webhooks`, { method: 'POST', headers: { 'content-type': 'application/json', ...circle.sim.controlHeaders }, body: JSON.stringify({ url: `${address}/webhook`, ...w }) })
    if (!res.ok) throw new Error(`subscribe failed: ${res.status}`)
  }
  const metrics = h.deps.metrics
  const pm = new ProcessManager({
    store: h.store,
    db: h.db,
    pool: h.pool,
    circle: options.circle ? options.circle(circle.circle) : circle.circle,
    issuer,
    logger,
    metrics,
    pollMs: options.pollMs ?? 3_600_000,
    tickMs: 20,
    retry: { baseMs: 20, maxMs: 200 },
    leaseRetryMs: 100,
    maxAttempts: options.taskMaxAttempts ?? 10,
    ...(options.webhookBackoff ? { webhookBackoff: options.webhookBackoff } : {}),
  })
  // The worker's log lines (info and up), for tests of what it says.
  const workerLogs: Record<string, unknown>[] = []
  const worker = new WebhookWorker({
    store: h.store,
    db: h.db,
    pool: h.pool,
    issuer,
    masterWalletId: () => circle.circle.masterWalletId(),
    logger: pino({ level: 'info' }, { write: (line: string) => void workerLogs.push(JSON.parse(line) as Record<string, unknown>) }),
    metrics,
    maxAttempts: options.webhookMaxAttempts ?? 12,
    retry: { baseMs: 20, maxMs: 400 },
    tickMs: 20,
    leaseRetryMs: 100,
  })
  holder.worker = worker
  pm.start()
  worker.start()
  t.teardown(async () => {
    await worker.stop()
    await pm.stop()
  })
  const events = async (stream: string) => h.store.readStream(stream)
  return { ...h, ...circle, pm, worker, workerLogs, address, metrics, events }
}

type Flow = Awaited<ReturnType<typeof webhookFlow>>

const billingDetails = { name: 'Ada Lovelace', line1: '1 Main St', city: 'Boston', postalCode: '02201', country: 'US', district: 'MA' }

/** Reads a resource over HTTP until `done` holds for it. */
export async function waitFor(h: Flow, url: string, done: (body: Record<string, unknown>) => boolean | Promise<boolean>, ms = 20_000): Promise<Record<string, unknown>> {
  const deadline = Date.now() + ms
  let last: Record<string, unknown> = {}
  for (;;) {
    const res = await h.get(url)
    if (res.statusCode === 200) {
      last = res.json()
      if (await done(last)) return last
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${url}: ${JSON.stringify(last)}`)
    await new Promise((r) => setTimeout(r, 25))
  }
}

export const isSettled = (b: Record<string, unknown>) => b.status === 'completed' || b.status === 'failed'

/** A wallet created through the API and made active by the process manager at the simulator. */
export async function apiWallet(h: Flow, ownerId = 'owner-1'): Promise<{ id: string; circleWalletId: string }> {
  const id = (await h.post('/wallets', { ownerId })).json().id as string
  const body = await waitFor(h, `/wallets/${id}`, (b) => b.status === 'active')
  return { id, circleWalletId: body.circleWalletId as string }
}

export async function apiMint(h: Flow, walletId: string, amount: string): Promise<string> {
  return (await h.post('/mint', { walletId, amount })).json().id as string
}

/** A bank account linked through the API; the link completes from Circle's `wire` webhook. */
export async function apiBankAccount(h: Flow, ownerId = 'owner-1'): Promise<string> {
  const res = await h.post('/bank-accounts', { ownerId, accountNumber: '12340010', routingNumber: '121000248', billingDetails, bankAddress: { bankName: 'Wells Fargo', country: 'US' } })
  const id = res.json().id as string
  await waitFor(h, `/bank-accounts/${id}`, (b) => b.status === 'active')
  return id
}

/** A wallet and an active card issued through the API, with the issuer's id for the card. */
export async function apiCard(h: Flow): Promise<{ cardId: string; issuerCardId: string }> {
  const wallet = await apiWallet(h)
  const cardId = (await h.post('/cards', { walletId: wallet.id, cardholderName: 'Ada Lovelace' })).json().id as string
  await waitFor(h, `/cards/${cardId}`, (b) => b.status === 'active')
  const issued = (await h.events(`card-${cardId}`)).find((e) => e.type === 'CardIssued')
  return { cardId, issuerCardId: issued!.data.issuerCardId as string }
}

/**
 * A card issuer wrapper (the flow's `issuer` option) whose `calls` fail as unreachable, a transient
 * error, while `switchboard.down` is set.
 */
export function downableIssuer(calls: readonly ('get' | 'freeze' | 'unfreeze' | 'close')[]) {
  const switchboard = { down: false }
  const failing = (call: (typeof calls)[number]) => switchboard.down && calls.includes(call)
  const unavailable = () => Promise.reject(new CardIssuerError('issuer unreachable', { transient: true, code: -1 }))
  const wrap = (real: CardIssuer): CardIssuer => ({
    issue: (r) => real.issue(r),
    get: (id) => (failing('get') ? unavailable() : real.get(id)),
    freeze: (id) => (failing('freeze') ? unavailable() : real.freeze(id)),
    unfreeze: (id) => (failing('unfreeze') ? unavailable() : real.unfreeze(id)),
    close: (id) => (failing('close') ? unavailable() : real.close(id)),
  })
  return { switchboard, wrap }
}

/**
 * /metrics (auditor key) once it matches `pattern`. Counters are incremented on the line after the
 * write that makes their event visible, so a test that has just seen the event can scrape a moment early.
 */
export function scrapeWhen(h: Flow, pattern: RegExp, ms = 5000): Promise<string> {
  return until(async () => {
    const body = (await h.app.inject({ method: 'GET', url: '/metrics', headers: auth.auditor })).body
    return pattern.test(body) && body
  }, ms, `/metrics to show ${pattern}`)
}
