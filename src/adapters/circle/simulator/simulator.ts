import { createHash, randomBytes, randomInt, randomUUID, timingSafeEqual } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import Fastify, { type FastifyReply, type FastifyRequest } from 'fastify'
import { z } from 'zod'
import { isSupportedChain, SUPPORTED_CHAINS } from '../../../commands/chains.ts'
import { formatAmount, parseCircleAmount } from '../../../events/money.ts'
import { canonicalJson } from '../../../events/canonical-json.ts'
import { fakeAddress, fakeTxHash } from './chains.ts'
import { queryErrors, requestErrors } from './contract.ts'
import { documentLock, memoryState, type Collection, type PageQuery, type SimState, type SimTx } from './state.ts'
import { newSigningKey, SNS_TOPIC_ARN, snsTestCertificate, WebhookDispatcher, type SigningKey, type WebhookFaults, type WebhookSubscriber } from './webhooks.ts'

/** Faults injected on demand, set per test through `PUT /sim/faults`; they apply to the simulator process they are sent to. */
export interface Faults {
  /** Share of API calls answered 500 / code -1; half fail before doing anything, half after (the resource exists). */
  errorRate: number
  /** Share of API calls answered 429. */
  rate429: number
  /** Added latency on every API call (ms). */
  latencyMs: number
  /** Share of API calls processed but answered only after `hangMs` (the client times out). */
  timeoutRate: number
  hangMs: number
  /** Transfers of these amounts (decimal strings) settle as failed. */
  failAmounts: string[]
  /** Transfers to these blockchain addresses settle as failed. */
  failAddresses: string[]
  /** Payouts of these amounts settle as failed. */
  failPayoutAmounts: string[]
  /** Hold the answer to creations of these kinds this long (ms), after the resource exists (crash tests). */
  holdCreates: { kinds: string[]; ms: number }
  /** Calls with these API keys are answered 401 (a revoked or rotated key). */
  revokedKeys: string[]
  /** Calls with these API keys are answered 403 (a key without the permission). */
  forbiddenKeys: string[]
  /** Card issuer actions (freeze, unfreeze, close) answered 400 with this message instead of being done. */
  refuseCardActions: { actions: string[]; message: string }
  /** Card issuer actions answered only after this long (ms), done or not. */
  cardActionDelayMs: number
  webhooks: WebhookFaults
}

export const noFaults = (): Faults => ({
  errorRate: 0,
  rate429: 0,
  latencyMs: 0,
  timeoutRate: 0,
  hangMs: 30_000,
  failAmounts: [],
  failAddresses: [],
  failPayoutAmounts: [],
  holdCreates: { kinds: [], ms: 0 },
  revokedKeys: [],
  forbiddenKeys: [],
  refuseCardActions: { actions: [], message: 'refused by the issuer' },
  cardActionDelayMs: 0,
  webhooks: { dropRate: 0, duplicateRate: 0, reorderMs: 0 },
})

export interface SimulatorOptions {
  /** Treasury (master wallet) balance, decimal string; applied when the state is new. */
  treasury?: string
  /** How long resources stay pending before they settle (ms). */
  settleMs?: number
  webhookRetries?: number
  webhookRetryDelayMs?: number
  /** Where resources live; memory unless given. The simulator closes it on close(). */
  state?: SimState
  /** Bearer token for the `/sim/*` control routes; a random one when unset (read it from `controlToken`). */
  controlToken?: string
  /** How often pending resources due to settle are looked for, beyond the ones this process scheduled itself (ms). */
  sweepMs?: number
  /** How many of the latest API requests `received` keeps for inspection (10,000); a long run keeps no more. */
  keepRequests?: number
}

type Status = 'pending' | 'running' | 'complete' | 'failed'
type Money = { amount: string; currency: 'USD' }
/** Balances are micro-unit integer strings: the state is JSON. */
interface Wallet { walletId: string; entityId: string; type: string; description: string; balance: string }
interface Address { walletId: string; address: string; addressTag?: string; currency: 'USD'; chain: string }
interface Transfer {
  id: string
  source: { type: 'wallet'; id: string } | { type: 'blockchain'; chain: string }
  destination: { type: 'wallet'; id: string; address?: string; addressTag?: string; chain?: string } | { type: 'blockchain'; address: string; addressTag?: string; chain: string }
  amount: Money
  transactionHash?: string
  status: Status
  errorCode?: string
  createDate: string
}
interface Wire { id: string; status: 'pending' | 'complete' | 'failed'; description: string; trackingRef: string; fingerprint: string; billingDetails: unknown; bankAddress: unknown; createDate: string; updateDate: string }
interface Payout {
  id: string
  sourceWalletId: string
  destination: { type: 'wire'; id: string }
  amount: Money
  fees: Money
  status: 'pending' | 'complete' | 'failed'
  trackingRef: string
  errorCode?: string
  createDate: string
  updateDate: string
}
export interface Card { id: string; walletId: string; cardholderName: string; status: 'pending' | 'active' | 'frozen' | 'closed'; last4: string; expMonth: number; expYear: number; network: string; createDate: string }
interface Idempotency { hash: string; status: number; body: unknown; kind: string; id: string; requests: number }
/** A resource due to move on after `settleMs`; kept in the state so a restarted simulator still settles it. */
interface Job {
  action: 'wire' | 'transfer' | 'payout' | 'card' | 'deposit'
  target: string
  dueAt: number
  fail?: boolean
  /** The documents settling it changes (`documentLock` names); a job without them settles alone. */
  locks?: string[]
}
/** Where each kind of job keeps its target. */
const jobCollection: Record<Job['action'], Collection> = { wire: 'wires', transfer: 'transfers', deposit: 'transfers', payout: 'payouts', card: 'cards' }
type Note = [notificationType: string, resourceKey: string, resource: { id: string; status?: string }]

/** One resource created through an idempotency key, and how many requests used that key. */
export interface Creation {
  kind: string
  id: string
  idempotencyKey: string
  requests: number
}

class CircleApiError extends Error {
  readonly status: number
  readonly code: number
  readonly errors: unknown[] | undefined
  constructor(status: number, code: number, message: string, errors?: unknown[]) {
    super(message)
    this.status = status
    this.code = code
    this.errors = errors
  }
}

const MASTER_WALLET_ID = '1000000001'
const FIRST_WALLET_ID = 1000000100n
/** Circle's collection limit for list endpoints. */
const MAX_PAGE = 50

const now = () => new Date().toISOString()
const usd = (micro: bigint): Money => ({ amount: formatAmount(micro), currency: 'USD' })
const invalid = (location: string, message: string, invalidValue?: unknown) =>
  new CircleApiError(400, 2, `Invalid entity.\n${location} ${message}`, [{ error: 'invalid_value', location, message, ...(invalidValue === undefined ? {} : { invalidValue }) }])

/** A document the simulator wrote itself (the master wallet, one it just stored): missing means its state is broken. */
const stored = <T>(doc: T | undefined, what: string): T => {
  if (doc === undefined) throw new Error(`the simulator's state has no ${what}`)
  return doc
}

/** Circle's answer to a body that fails its schema: the first issue, located. */
const invalidEntity = (error: z.ZodError) => {
  const [issue] = error.issues
  const location = issue?.path.join('.') || 'body'
  const message = issue?.message ?? 'is not valid'
  return new CircleApiError(400, 2, `Invalid entity.\n${location} ${message}`, [{ error: 'invalid_value', location, message }])
}

const depositBody = z
  .strictObject({
    walletId: z.string().min(1).optional(),
    address: z.string().min(1).optional(),
    addressTag: z.string().min(1).optional(),
    amount: z.string().regex(/^\d+(\.\d{1,6})?$/, 'a decimal string such as "10.50"'),
    chain: z.string().refine(isSupportedChain, `one of ${SUPPORTED_CHAINS.join(', ')}`).optional(),
  })
  .refine((b) => b.walletId !== undefined || b.address !== undefined, { message: 'walletId or address is required', path: ['walletId'] })

/**
 * A local stand-in for Circle's Core API (the subset we call) plus a card issuer, so the real SDK
 * is exercised over HTTP. Idempotent like Circle, balances that move, resources that settle after
 * a delay, signed webhooks, and faults on demand. Its state is memory or PostgreSQL (durable, and
 * shared by every simulator on the same database).
 */
export async function createCircleSimulator(options: SimulatorOptions = {}) {
  const app = Fastify({ logger: false, bodyLimit: 1024 * 1024, forceCloseConnections: true })
  const settleMs = options.settleMs ?? 200
  const state = options.state ?? memoryState()
  const controlToken = options.controlToken ?? randomBytes(24).toString('base64url')
  const masterWalletId = MASTER_WALLET_ID
  // SNS subscriptions this process confirmed (shown by GET /sim/webhooks).
  const confirmedSubscribers = new Set<string>()
  // The latest API requests (tests inspect them), at most keepRequests, and how many there were in all.
  const received: { method: string; path: string; idempotencyKey?: string; at: number }[] = []
  const keepRequests = Math.max(1, options.keepRequests ?? 10_000)
  let receivedTotal = 0
  let faults = noFaults()
  // Held answers and latency end when the simulator closes, so close() never waits on them.
  const closing = new AbortController()
  const pause = (ms: number) => sleep(ms, undefined, { signal: closing.signal }).catch(() => undefined)

  const signingKey = await state.atomically(async (tx) => {
    if (!(await tx.get<Wallet>('wallets', masterWalletId))) {
      const balance = parseCircleAmount(options.treasury ?? '1000000.00').toString()
      await tx.put<Wallet>('wallets', masterWalletId, { walletId: masterWalletId, entityId: randomUUID(), type: 'merchant', description: 'Master Wallet', balance }, [masterWalletId])
    }
    let key = await tx.get<SigningKey>('keys', 'webhooks-v2')
    if (!key) await tx.put('keys', 'webhooks-v2', (key = newSigningKey()))
    return key
  })
  const webhooks = new WebhookDispatcher({
    key: signingKey,
    ...(options.webhookRetries === undefined ? {} : { retries: options.webhookRetries }),
    ...(options.webhookRetryDelayMs === undefined ? {} : { retryDelayMs: options.webhookRetryDelayMs }),
  })

  /** Delivers notifications collected in a committed unit of work to every subscriber in the state. */
  async function deliver(notes: Note[]) {
    if (notes.length === 0) return
    const subscribers = (await state.read.list<WebhookSubscriber>('subscribers')).map((s) => s.doc)
    for (const [type, key, resource] of notes) webhooks.notify(subscribers, type, key, resource)
  }

  // Circle's API and document know pending/complete/failed; only webhooks carry `running`.
  const publicTransfer = (t: Transfer) => ({ ...t, status: t.status === 'running' ? 'pending' : t.status })
  const publicWallet = (w: Wallet) => ({ walletId: w.walletId, entityId: w.entityId, type: w.type, description: w.description, balances: BigInt(w.balance) > 0n ? [usd(BigInt(w.balance))] : [] })
  const transferWallets = (t: Transfer) => [t.source.type === 'wallet' ? t.source.id : undefined, t.destination.type === 'wallet' ? t.destination.id : undefined].filter((id): id is string => id !== undefined)
  const putTransfer = (tx: SimTx, t: Transfer) => tx.put('transfers', t.id, t, transferWallets(t))
  const credit = async (tx: SimTx, walletId: string, amount: bigint) => {
    const w = stored(await tx.get<Wallet>('wallets', walletId), `wallet ${walletId}`)
    await tx.put('wallets', walletId, { ...w, balance: (BigInt(w.balance) + amount).toString() }, [walletId])
  }

  const timers = new Set<NodeJS.Timeout>()
  /** Schedules the job's settlement; `wallets` are the balances it may change (for its locks). */
  const schedule = async (tx: SimTx, job: Omit<Job, 'dueAt' | 'locks'>, wallets: string[] = []) => {
    const id = randomUUID()
    const locks = [documentLock(jobCollection[job.action], job.target), ...wallets.map((w) => documentLock('wallets', w))]
    await tx.put<Job>('jobs', id, { ...job, locks, dueAt: Date.now() + settleMs })
    // This process settles its own jobs on time, once the job is committed; the sweep picks up those of a stopped or other simulator.
    tx.afterCommit(() => {
      if (closing.signal.aborted) return
      const timer = setTimeout(() => {
        timers.delete(timer)
        void settle(id, locks)
      }, settleMs)
      timers.add(timer)
    })
  }

  /** Settles a job once (its own lock makes a second settlement find it gone), beside the jobs that touch other documents. */
  async function settle(jobId: string, locks: string[] | undefined) {
    if (closing.signal.aborted) return
    const notes: Note[] = []
    await state
      .atomically(
        async (tx) => {
          const job = await tx.get<Job>('jobs', jobId)
          if (!job) return
          await tx.delete('jobs', jobId)
          await runJob(tx, job, notes)
        },
        locks === undefined ? {} : { locks: [documentLock('jobs', jobId), ...locks] },
      )
      .then(
        // Webhooks are best effort, as at Circle: a store that fails while listing subscribers loses this delivery only.
        () => deliver(notes).catch(() => undefined),
        () => undefined, // the state is unreachable now; the sweep retries the job
      )
  }

  async function runJob(tx: SimTx, job: Job, notes: Note[]) {
    switch (job.action) {
      case 'wire': {
        const wire = await tx.get<Wire>('wires', job.target)
        if (!wire || wire.status !== 'pending') return
        const done: Wire = { ...wire, status: 'complete', updateDate: now() }
        await tx.put('wires', wire.id, done)
        notes.push(['wire', 'wire', done])
        return
      }
      case 'transfer':
      case 'deposit': {
        const transfer = await tx.get<Transfer>('transfers', job.target)
        if (!transfer || (transfer.status !== 'pending' && transfer.status !== 'running')) return
        const amount = parseCircleAmount(transfer.amount.amount)
        let next: Transfer
        if (job.fail) {
          const { transactionHash: _dropped, ...rest } = transfer
          next = { ...rest, status: 'failed', errorCode: 'transfer_failed' }
          if (transfer.source.type === 'wallet') await credit(tx, transfer.source.id, amount)
        } else {
          next = { ...transfer, status: 'complete' }
          if (transfer.destination.type === 'wallet') await credit(tx, transfer.destination.id, amount)
        }
        await putTransfer(tx, next)
        notes.push(['transfers', 'transfer', next])
        return
      }
      case 'payout': {
        const payout = await tx.get<Payout>('payouts', job.target)
        if (!payout || payout.status !== 'pending') return
        const failed = faults.failPayoutAmounts.includes(payout.amount.amount)
        const next: Payout = failed ? { ...payout, status: 'failed', errorCode: 'bank_transaction_error', updateDate: now() } : { ...payout, status: 'complete', updateDate: now() }
        if (failed) await credit(tx, masterWalletId, parseCircleAmount(payout.amount.amount))
        await tx.put('payouts', payout.id, next)
        notes.push(['payouts', 'payout', next])
        return
      }
      case 'card': {
        const card = await tx.get<Card>('cards', job.target)
        if (!card) return
        const next: Card = card.status === 'pending' ? { ...card, status: 'active' } : card
        await tx.put('cards', card.id, next)
        notes.push(['cards', 'card', next])
        return
      }
    }
  }

  const sweepMs = options.sweepMs ?? Math.max(250, settleMs)
  const sweeper = setInterval(() => {
    void state.read.list<Job>('jobs').then(
      async (jobs) => {
        // A job is left to the process that scheduled it until well past its due time.
        for (const job of jobs) if (job.doc.dueAt + sweepMs <= Date.now()) await settle(job.id, job.doc.locks)
      },
      () => undefined,
    )
  }, sweepMs)

  app.setErrorHandler((err, _request, reply) => {
    if (err instanceof CircleApiError) return reply.code(err.status).send({ code: err.code, message: err.message, ...(err.errors ? { errors: err.errors } : {}) })
    const status = (err as { statusCode?: number }).statusCode
    if (status && status < 500) return reply.code(400).send({ code: 2, message: 'Invalid entity.' })
    return reply.code(500).send({ code: -1, message: 'Something went wrong.' })
  })

  const isApi = (url: string) => url.startsWith('/v1/') || url.startsWith('/v2/') || url.startsWith('/issuing/')
  const tokenBytes = Buffer.from(`Bearer ${controlToken}`)
  const isControl = (url: string) => url === '/sim' || url.startsWith('/sim/') || url.startsWith('/sim?')

  app.addHook('onRequest', async (request, reply) => {
    if (isControl(request.url)) {
      const given = Buffer.from(request.headers.authorization ?? '')
      if (given.length !== tokenBytes.length || !timingSafeEqual(given, tokenBytes)) {
        return reply.code(401).send({ code: 1, message: 'The simulator control routes need Authorization: Bearer <control token>.' })
      }
      return
    }
    if (!isApi(request.url)) return
    const authorization = request.headers.authorization ?? ''
    if (!/^Bearer \S+$/.test(authorization)) return reply.code(401).send({ code: 1, message: 'Malformed authorization.' })
    const apiKey = authorization.slice('Bearer '.length)
    if (faults.revokedKeys.includes(apiKey)) return reply.code(401).send({ code: 401, message: 'Invalid credentials.' })
    if (faults.forbiddenKeys.includes(apiKey)) return reply.code(403).send({ code: 3, message: 'Forbidden.' })
    if (faults.latencyMs > 0) await pause(faults.latencyMs)
    if (Math.random() < faults.rate429) return reply.code(429).send({ code: 429, message: 'Too many requests.' })
    if (Math.random() < faults.errorRate) {
      if (Math.random() < 0.5) return reply.code(500).send({ code: -1, message: 'Something went wrong.' })
      ;(request as FastifyRequest & { failAfter?: boolean }).failAfter = true
    }
    if (Math.random() < faults.timeoutRate) (request as FastifyRequest & { hang?: boolean }).hang = true
  })
  // Every API request that got past auth and faults, for inspection.
  app.addHook('preHandler', async (request) => {
    if (!isApi(request.url)) return
    const key = (request.body as { idempotencyKey?: unknown } | undefined)?.idempotencyKey
    received.push({ method: request.method, path: request.url.replace(/\?.*$/s, ''), ...(typeof key === 'string' ? { idempotencyKey: key } : {}), at: Date.now() })
    receivedTotal++
    // Dropped in halves, not one by one: a shift per request would copy the whole list each time.
    if (received.length > keepRequests) received.splice(0, received.length - Math.floor(keepRequests / 2))
  })
  app.addHook('onSend', async (request, reply, payload) => {
    const r = request as FastifyRequest & { failAfter?: boolean; hang?: boolean; holdMs?: number }
    if (r.hang) await pause(faults.hangMs)
    if (r.holdMs) await pause(r.holdMs)
    if (r.failAfter) {
      reply.code(500)
      return JSON.stringify({ code: -1, message: 'Something went wrong.' })
    }
    return payload
  })

  /**
   * Circle's idempotency: same key + same body -> the first answer; another body -> 409 / 1083.
   * The check, the creation and the record are one unit of work, so two requests with one key
   * (even at two simulators sharing a database) create one resource.
   */
  async function idempotent(
    request: FastifyRequest,
    reply: FastifyReply,
    kind: string,
    create: (tx: SimTx, notes: Note[]) => Promise<{ id: string; body: unknown }>,
    /** The documents `create` changes, beyond the new ones it makes; omitted, the creation runs alone. */
    locks?: string[],
  ) {
    const body = request.body as { idempotencyKey: string }
    const key = body.idempotencyKey
    const hash = createHash('sha256').update(`${request.url}\n${canonicalJson(body)}`).digest('hex')
    const notes: Note[] = []
    const answer = await state.atomically(async (tx) => {
      const seen = await tx.get<Idempotency>('idempotency', key)
      if (seen) {
        if (seen.hash !== hash) throw new CircleApiError(409, 1083, 'Idempotency key already bound to other request.')
        await tx.put<Idempotency>('idempotency', key, { ...seen, requests: seen.requests + 1 })
        return { status: seen.status, body: seen.body }
      }
      const { id, body: resource } = await create(tx, notes)
      await tx.put<Idempotency>('idempotency', key, { hash, status: 201, body: resource, kind, id, requests: 1 })
      return { status: 201, body: resource }
    }, locks === undefined ? {} : { locks: [documentLock('idempotency', key), ...locks] })
    await deliver(notes)
    if (faults.holdCreates.kinds.includes(kind)) (request as FastifyRequest & { holdMs?: number }).holdMs = faults.holdCreates.ms
    return reply.code(answer.status).send({ data: answer.body })
  }

  /** Registers a Circle route under its OpenAPI path; bodies and query strings are checked against Circle's document first. */
  function circleRoute(method: 'GET' | 'POST', openapiPath: string, handler: (request: FastifyRequest, reply: FastifyReply) => unknown) {
    app.route({
      method,
      url: openapiPath.replace(/\{(\w+)\}/g, ':$1'),
      handler: async (request, reply) => {
        const errors = method === 'POST' ? requestErrors(method, openapiPath, request.body ?? {}) : queryErrors(method, openapiPath, request.query as Record<string, unknown>)
        if (errors.length > 0) {
          throw new CircleApiError(400, 2, `Invalid entity.\n${errors.map((e) => `${e.location} ${e.message}`).join('\n')}`, errors)
        }
        return handler(request, reply)
      },
    })
  }

  const notFound = () => new CircleApiError(404, 404, 'Not found.')
  const param = (request: FastifyRequest, name: string) => {
    const value = (request.params as Record<string, string | undefined>)[name]
    if (value === undefined) throw notFound()
    return value
  }

  /** GET one resource by the path's last parameter: `{data}`, or 404. */
  function readRoute<T>(openapiPath: string, collection: 'wallets' | 'transfers' | 'wires' | 'payouts', view: (resource: T) => unknown = (r) => r) {
    const name = /\{(\w+)\}$/.exec(openapiPath)?.[1]
    if (name === undefined) throw new Error(`${openapiPath} does not end in a path parameter`)
    circleRoute('GET', openapiPath, async (request) => {
      const resource = await state.read.get<T>(collection, param(request, name))
      if (!resource) throw notFound()
      return { data: view(resource) }
    })
  }

  /**
   * Circle's paging over a collection in its natural order (newest first): `from`/`to` bound the
   * creation date (inclusive) where the collection is `dated`, `pageAfter` starts after an id (older
   * items), `pageBefore` ends before one (newer items), `pageSize` defaults to and is capped at 50.
   * The state reads the page alone, so paging through a long list costs its length once.
   */
  async function page<T>(collection: Collection, query: Record<string, string | undefined>, filter: Pick<PageQuery, 'walletId' | 'contains'> & { dated?: boolean } = {}): Promise<T[]> {
    if (query.pageBefore !== undefined && query.pageAfter !== undefined) throw invalid('pageBefore', 'may not be used with pageAfter')
    const size = Math.floor(Math.min(Number(query.pageSize ?? MAX_PAGE), MAX_PAGE))
    const read: PageQuery = { size }
    if (filter.walletId !== undefined) read.walletId = filter.walletId
    if (filter.contains !== undefined) read.contains = filter.contains
    if (filter.dated && query.from !== undefined) read.createdFrom = query.from
    if (filter.dated && query.to !== undefined) read.createdTo = query.to
    if (query.pageAfter !== undefined) read.after = query.pageAfter
    if (query.pageBefore !== undefined) read.before = query.pageBefore
    // A date that does not parse matches no creation date.
    const unreadableDate = [read.createdFrom, read.createdTo].some((d) => d !== undefined && Number.isNaN(Date.parse(d)))
    if (!(size >= 1) || unreadableDate) return []
    return (await state.read.page<T>(collection, read)).map((d) => d.doc)
  }

  app.get('/ping', async () => ({ message: 'pong' }))
  circleRoute('GET', '/v1/configuration', async () => ({ data: { payments: { masterWalletId } } }))

  circleRoute('POST', '/v1/wallets', async (request, reply) =>
    idempotent(request, reply, 'wallet', async (tx) => {
      const walletId = String(await tx.next('wallet', FIRST_WALLET_ID))
      const wallet: Wallet = { walletId, entityId: randomUUID(), type: 'end_user_wallet', description: (request.body as { description?: string }).description ?? '', balance: '0' }
      await tx.put('wallets', walletId, wallet, [walletId])
      return { id: walletId, body: publicWallet(wallet) }
    }),
  )
  readRoute('/v1/wallets/{walletId}', 'wallets', publicWallet)
  circleRoute('GET', '/v1/wallets', async (request) => {
    return { data: (await page<Wallet>('wallets', request.query as Record<string, string>)).map(publicWallet) }
  })
  circleRoute('POST', '/v1/wallets/{walletId}/addresses', async (request, reply) => {
    const walletId = param(request, 'walletId')
    return idempotent(request, reply, 'address', async (tx) => {
      if (!(await tx.get('wallets', walletId))) throw notFound()
      const chain = (request.body as { chain: string }).chain
      const entry: Address = { walletId, ...fakeAddress(chain), currency: 'USD', chain }
      await tx.put('addresses', entry.address, entry, [walletId])
      const { walletId: _w, ...body } = entry
      return { id: entry.address, body }
    })
  })
  circleRoute('GET', '/v1/wallets/{walletId}/addresses', async (request) => {
    const walletId = param(request, 'walletId')
    if (!(await state.read.get('wallets', walletId))) throw notFound()
    return { data: (await page<Address>('addresses', request.query as Record<string, string>, { walletId })).map(({ walletId: _w, ...a }) => a) }
  })

  circleRoute('POST', '/v1/businessAccount/banks/wires', async (request, reply) =>
    idempotent(request, reply, 'wire', async (tx) => {
      const b = request.body as { accountNumber?: string; iban?: string; billingDetails: unknown; bankAddress: { bankName?: string } }
      const number = b.accountNumber ?? b.iban ?? ''
      const wire: Wire = {
        id: randomUUID(),
        status: 'pending',
        description: `${(b.bankAddress.bankName ?? 'BANK').toUpperCase()} ****${number.slice(-4)}`,
        trackingRef: `CIR${randomBytes(4).toString('hex').toUpperCase()}`,
        fingerprint: randomUUID(),
        billingDetails: b.billingDetails,
        bankAddress: b.bankAddress,
        createDate: now(),
        updateDate: now(),
      }
      await tx.put('wires', wire.id, wire)
      await schedule(tx, { action: 'wire', target: wire.id })
      return { id: wire.id, body: wire }
    }),
  )
  readRoute('/v1/businessAccount/banks/wires/{id}', 'wires')

  circleRoute('GET', '/v1/businessAccount/balances', async () => {
    const master = stored(await state.read.get<Wallet>('wallets', masterWalletId), 'master wallet')
    return { data: { available: [usd(BigInt(master.balance))], unsettled: [] } }
  })

  circleRoute('POST', '/v1/transfers', async (request, reply) => {
    const b = request.body as { idempotencyKey: string; source: { id: string }; destination: Transfer['destination']; amount: Money }
    return idempotent(request, reply, 'transfer', async (tx, notes) => {
      const source = await tx.get<Wallet>('wallets', b.source.id)
      if (!source) throw new CircleApiError(400, 1088, 'Invalid source account.')
      if (b.destination.type === 'wallet' && !(await tx.get('wallets', b.destination.id))) throw new CircleApiError(400, 1089, 'Invalid destination account.')
      const amount = parseCircleAmount(b.amount.amount)
      if (amount <= 0n) throw invalid('amount.amount', 'must be positive', b.amount.amount)
      if (BigInt(source.balance) < amount) throw new CircleApiError(400, 1093, 'Insufficient funds.')
      await tx.put('wallets', source.walletId, { ...source, balance: (BigInt(source.balance) - amount).toString() }, [source.walletId])
      const destination: Transfer['destination'] =
        b.destination.type === 'wallet'
          ? { type: 'wallet', id: b.destination.id }
          : { type: 'blockchain', address: b.destination.address, chain: b.destination.chain, ...(b.destination.addressTag ? { addressTag: b.destination.addressTag } : {}) }
      const transfer: Transfer = { id: randomUUID(), source: { type: 'wallet', id: source.walletId }, destination, amount: usd(amount), status: 'pending', createDate: now() }
      notes.push(['transfers', 'transfer', transfer])
      const fail = faults.failAmounts.includes(transfer.amount.amount) || (destination.type === 'blockchain' && faults.failAddresses.includes(destination.address))
      let stored = transfer
      // An on-chain transfer is broadcast before it settles: it has its hash while `running`.
      if (destination.type === 'blockchain' && !fail) {
        stored = { ...transfer, status: 'running', transactionHash: fakeTxHash(destination.chain) }
        notes.push(['transfers', 'transfer', stored])
      }
      await putTransfer(tx, stored)
      await schedule(tx, { action: 'transfer', target: transfer.id, fail }, transferWallets(stored))
      return { id: transfer.id, body: publicTransfer(transfer) }
      // Only the source's balance changes now: transfers from different wallets are made side by side.
    }, [documentLock('wallets', b.source.id)])
  })
  readRoute('/v1/transfers/{id}', 'transfers', publicTransfer)
  circleRoute('GET', '/v1/transfers', async (request) => {
    const q = request.query as Record<string, string | undefined>
    if (q.walletId !== undefined && (q.sourceWalletId !== undefined || q.destinationWalletId !== undefined)) {
      throw invalid('walletId', 'may not be used with sourceWalletId or destinationWalletId', q.walletId)
    }
    const walletId = q.walletId ?? q.sourceWalletId ?? q.destinationWalletId
    const contains = {
      ...(q.sourceWalletId === undefined ? {} : { source: { type: 'wallet', id: q.sourceWalletId } }),
      ...(q.destinationWalletId === undefined ? {} : { destination: { type: 'wallet', id: q.destinationWalletId } }),
    }
    const transfers = await page<Transfer>('transfers', q, { ...(walletId === undefined ? {} : { walletId }), ...(Object.keys(contains).length > 0 ? { contains } : {}), dated: true })
    return { data: transfers.map(publicTransfer) }
  })

  circleRoute('POST', '/v1/businessAccount/payouts', async (request, reply) => {
    const b = request.body as { idempotencyKey: string; destination: { id: string }; amount: Money }
    return idempotent(request, reply, 'payout', async (tx, notes) => {
      const wire = await tx.get<Wire>('wires', b.destination.id)
      if (!wire || wire.status !== 'complete') throw new CircleApiError(400, 1089, 'Invalid destination account.')
      const master = stored(await tx.get<Wallet>('wallets', masterWalletId), 'master wallet')
      const amount = parseCircleAmount(b.amount.amount)
      if (BigInt(master.balance) < amount) throw new CircleApiError(400, 5006, 'Insufficient funds.')
      await tx.put('wallets', masterWalletId, { ...master, balance: (BigInt(master.balance) - amount).toString() }, [masterWalletId])
      const payout: Payout = {
        id: randomUUID(),
        sourceWalletId: masterWalletId,
        destination: { type: 'wire', id: wire.id },
        amount: usd(amount),
        fees: usd(0n),
        status: 'pending',
        trackingRef: wire.trackingRef,
        createDate: now(),
        updateDate: now(),
      }
      await tx.put('payouts', payout.id, payout)
      await schedule(tx, { action: 'payout', target: payout.id }, [masterWalletId])
      notes.push(['payouts', 'payout', payout])
      return { id: payout.id, body: payout }
    })
  })
  readRoute('/v1/businessAccount/payouts/{id}', 'payouts')
  circleRoute('GET', '/v1/businessAccount/payouts', async (request) => {
    return { data: await page<Payout>('payouts', request.query as Record<string, string>, { dated: true }) }
  })

  app.get('/v2/notifications/publicKey/:id', async (request) => {
    const { id } = request.params as { id: string }
    if (id !== webhooks.keyId) throw notFound()
    return { data: { id, algorithm: 'ECDSA_SHA_256', publicKey: webhooks.publicKeyDer, createDate: now() } }
  })
  app.get('/sns/cert.pem', async (_request, reply) => reply.type('application/x-pem-file').send(snsTestCertificate))

  // Card issuing: not part of Circle (its SDK has none); the bundled CardIssuer talks to these routes.
  const cardOf = async (request: FastifyRequest) => {
    const card = await state.read.get<Card>('cards', param(request, 'id'))
    if (!card) throw notFound()
    return card
  }
  app.post('/issuing/v1/cards', async (request, reply) => {
    const b = (request.body ?? {}) as { idempotencyKey?: string; walletId?: string; cardholderName?: string }
    const { walletId, cardholderName } = b
    if (!b.idempotencyKey || !walletId || !cardholderName) {
      throw new CircleApiError(400, 2, 'Invalid entity.', [{ error: 'required', location: !b.idempotencyKey ? 'idempotencyKey' : !walletId ? 'walletId' : 'cardholderName', message: 'may not be null' }])
    }
    return idempotent(request, reply, 'card', async (tx) => {
      const card: Card = { id: randomUUID(), walletId, cardholderName, status: 'pending', last4: String(randomInt(1000, 9999)), expMonth: randomInt(1, 13), expYear: new Date().getUTCFullYear() + 4, network: 'VISA', createDate: now() }
      await tx.put('cards', card.id, card)
      await schedule(tx, { action: 'card', target: card.id })
      return { id: card.id, body: card }
    })
  })
  app.get('/issuing/v1/cards/:id', async (request) => ({ data: await cardOf(request) }))
  for (const [action, to] of [['freeze', 'frozen'], ['unfreeze', 'active'], ['close', 'closed']] as const) {
    app.post(`/issuing/v1/cards/:id/${action}`, async (request) => {
      if (faults.cardActionDelayMs > 0) await pause(faults.cardActionDelayMs)
      if (faults.refuseCardActions.actions.includes(action)) throw new CircleApiError(400, 2, faults.refuseCardActions.message)
      const id = param(request, 'id')
      const card = await state.atomically(async (tx) => {
        const current = await tx.get<Card>('cards', id)
        if (!current) throw notFound()
        if (current.status === 'closed' && to !== 'closed') throw new CircleApiError(400, 2, 'Card is closed.')
        if (current.status === 'pending') throw new CircleApiError(400, 2, 'Card is not issued yet.')
        const next: Card = { ...current, status: to }
        await tx.put('cards', id, next)
        return next
      })
      // The issuer tells us about the change in a card event, as for any change it makes.
      await deliver([['cards', 'card', card]])
      return { data: card }
    })
  }

  // Simulator control, for tests and local runs; every route needs the control token.
  app.put('/sim/faults', async (request) => {
    faults = { ...noFaults(), ...(request.body as Partial<Faults>) }
    webhooks.faults = faults.webhooks
    return faults
  })
  app.get('/sim/faults', async () => faults)
  app.get('/sim/inspect', async () => ({ creations: await creations(), received: receivedTotal }))
  /** Subscribes a URL; the same URL and version again is the same subscription (a restarted service re-subscribes). */
  app.post('/sim/webhooks', async (request) => {
    const b = request.body as { url: string; version?: 'v1' | 'v2'; signatureVersion?: '1' | '2' }
    const version = b.version ?? 'v2'
    const { subscriber, created } = await state.atomically(async (tx) => {
      const existing = (await tx.list<WebhookSubscriber>('subscribers')).find((s) => s.doc.url === b.url && s.doc.version === version && s.doc.signatureVersion === b.signatureVersion)
      if (existing) return { subscriber: existing.doc, created: false }
      const fresh: WebhookSubscriber = { id: randomUUID(), url: b.url, version, ...(b.signatureVersion ? { signatureVersion: b.signatureVersion } : {}) }
      await tx.put('subscribers', fresh.id, fresh)
      return { subscriber: fresh, created: true }
    })
    // SNS asks a new endpoint to confirm before it delivers anything.
    if (created && subscriber.version === 'v1') webhooks.confirmSubscription(subscriber)
    return subscriber
  })
  /** SNS's SubscribeURL: the subscriber confirms by GETting it. */
  app.get('/sns/confirm', async (request) => {
    const { subscriber } = request.query as { subscriber?: string }
    if (!subscriber || !(await state.read.get<WebhookSubscriber>('subscribers', subscriber))) throw notFound()
    confirmedSubscribers.add(subscriber)
    return { ConfirmSubscriptionResponse: { ConfirmSubscriptionResult: { SubscriptionArn: `${SNS_TOPIC_ARN}:${subscriber}` } } }
  })
  app.get('/sim/webhooks', async () => ({
    subscribers: (await state.read.list<WebhookSubscriber>('subscribers')).map(({ doc }) => ({ ...doc, confirmed: doc.version === 'v2' || confirmedSubscribers.has(doc.id) })),
  }))
  /** The issuer changes a card on its own (e.g. a fraud freeze), and says so in a card event. */
  app.post('/sim/cards/:id/status', async (request) => {
    const id = param(request, 'id')
    const status = (request.body as { status: Card['status'] }).status
    const card = await state.atomically(async (tx) => {
      const current = await tx.get<Card>('cards', id)
      if (!current) throw notFound()
      const next: Card = { ...current, status }
      await tx.put('cards', id, next)
      return next
    })
    await deliver([['cards', 'card', card]])
    return { data: card }
  })
  app.put('/sim/treasury', async (request) => {
    const amount = parseCircleAmount((request.body as { amount: string }).amount)
    await state.atomically(async (tx) => {
      const master = stored(await tx.get<Wallet>('wallets', masterWalletId), 'master wallet')
      await tx.put('wallets', masterWalletId, { ...master, balance: amount.toString() }, [masterWalletId])
    })
    return { amount: formatAmount(amount) }
  })
  /**
   * An inbound on-chain deposit: `{address | walletId, amount, chain?, addressTag?}`. It becomes a
   * Circle transfer from `{type: blockchain}` to the wallet, pending and then complete after
   * `settleMs` (the wallet is credited then), listed by `GET /v1/transfers?walletId=`.
   */
  app.post('/sim/deposits', async (request, reply) => {
    const parsed = depositBody.safeParse(request.body ?? {})
    if (!parsed.success) throw invalidEntity(parsed.error)
    const b = parsed.data
    const amount = parseCircleAmount(b.amount)
    if (amount <= 0n) throw invalid('amount', 'must be positive', b.amount)
    const notes: Note[] = []
    const transfer = await state.atomically(async (tx) => {
      let address: Address | undefined
      if (b.address !== undefined) {
        address = await tx.get<Address>('addresses', b.address)
        if (!address) throw new CircleApiError(404, 404, `No wallet has the address ${b.address}.`)
        if (b.walletId !== undefined && b.walletId !== address.walletId) throw invalid('walletId', `does not own the address ${b.address}`, b.walletId)
        if (b.chain !== undefined && b.chain !== address.chain) throw invalid('chain', `the address ${b.address} is on ${address.chain}`, b.chain)
      }
      const walletId = address?.walletId ?? b.walletId
      if (walletId === undefined) throw invalid('walletId', 'walletId or address is required')
      if (!(await tx.get('wallets', walletId))) throw notFound()
      const chain = address?.chain ?? b.chain ?? 'ETH'
      address ??= (await tx.list<Address>('addresses', { walletId })).map((a) => a.doc).find((a) => a.chain === chain)
      const destination: Transfer['destination'] = { type: 'wallet', id: walletId, ...(address ? { address: address.address, ...(address.addressTag ? { addressTag: address.addressTag } : {}) } : {}), chain }
      const t: Transfer = { id: randomUUID(), source: { type: 'blockchain', chain }, destination, amount: usd(amount), transactionHash: fakeTxHash(chain), status: 'pending', createDate: now() }
      await putTransfer(tx, t)
      await schedule(tx, { action: 'deposit', target: t.id }, transferWallets(t))
      notes.push(['transfers', 'transfer', t])
      return t
    })
    await deliver(notes)
    return reply.code(201).send({ data: publicTransfer(transfer) })
  })

  // Divergence on purpose: Circle's books changing behind the ledger's back, for reconciliation tests.
  const control = <T extends z.ZodType>(schema: T, body: unknown): z.infer<T> => {
    const parsed = schema.safeParse(body ?? {})
    if (parsed.success) return parsed.data
    throw invalidEntity(parsed.error)
  }
  const signedAmount = z.string().regex(/^-?\d+(\.\d{1,6})?$/, 'a signed decimal string such as "-5.00"')
  /** Changes a wallet's balance with no resource and no notification: `{amount}` signed, e.g. "-5.00". */
  app.post('/sim/wallets/:walletId/adjust', async (request) => {
    const { amount } = control(z.strictObject({ amount: signedAmount }), request.body)
    const walletId = param(request, 'walletId')
    const delta = amount.startsWith('-') ? -parseCircleAmount(amount.slice(1)) : parseCircleAmount(amount)
    const wallet = await state.atomically(async (tx) => {
      const w = await tx.get<Wallet>('wallets', walletId)
      if (!w) throw notFound()
      if (BigInt(w.balance) + delta < 0n) throw new CircleApiError(400, 1093, 'Insufficient funds.')
      await credit(tx, walletId, delta)
      return stored(await tx.get<Wallet>('wallets', walletId), `wallet ${walletId}`)
    })
    return { data: publicWallet(wallet) }
  })
  /**
   * A transfer nobody asked the ledger for (someone else with our API key): `{sourceWalletId,
   * destinationWalletId | address+chain, amount}`. It settles like any other transfer.
   */
  app.post('/sim/transfers', async (request, reply) => {
    const b = control(
      z.strictObject({ sourceWalletId: z.string().min(1), destinationWalletId: z.string().min(1).optional(), address: z.string().min(1).optional(), chain: z.string().min(1).optional(), amount: z.string().regex(/^\d+(\.\d{1,6})?$/) })
        .refine((x) => x.destinationWalletId !== undefined || (x.address !== undefined && x.chain !== undefined), { message: 'destinationWalletId or address and chain are required', path: ['destinationWalletId'] }),
      request.body,
    )
    const amount = parseCircleAmount(b.amount)
    if (amount <= 0n) throw invalid('amount', 'must be positive', b.amount)
    const notes: Note[] = []
    const transfer = await state.atomically(async (tx) => {
      const source = await tx.get<Wallet>('wallets', b.sourceWalletId)
      if (!source) throw new CircleApiError(400, 1088, 'Invalid source account.')
      if (b.destinationWalletId !== undefined && !(await tx.get('wallets', b.destinationWalletId))) throw new CircleApiError(400, 1089, 'Invalid destination account.')
      if (BigInt(source.balance) < amount) throw new CircleApiError(400, 1093, 'Insufficient funds.')
      await credit(tx, source.walletId, -amount)
      let destination: Transfer['destination']
      if (b.destinationWalletId !== undefined) destination = { type: 'wallet', id: b.destinationWalletId }
      else if (b.address !== undefined && b.chain !== undefined) destination = { type: 'blockchain', address: b.address, chain: b.chain }
      else throw invalid('destinationWalletId', 'destinationWalletId or address and chain are required')
      const t: Transfer = { id: randomUUID(), source: { type: 'wallet', id: source.walletId }, destination, amount: usd(amount), status: 'pending', createDate: now() }
      await putTransfer(tx, t)
      await schedule(tx, { action: 'transfer', target: t.id }, transferWallets(t))
      notes.push(['transfers', 'transfer', t])
      return t
    })
    await deliver(notes)
    return reply.code(201).send({ data: publicTransfer(transfer) })
  })
  /** Settles a pending transfer or payout now and sends no notification (a webhook that never came). */
  for (const [path, action, collection] of [['/sim/transfers/:id/complete', 'transfer', 'transfers'], ['/sim/payouts/:id/complete', 'payout', 'payouts']] as const) {
    app.post(path, async (request) => {
      const id = param(request, 'id')
      const settled = await state.atomically(async (tx) => {
        const resource = await tx.get<{ status: string }>(collection, id)
        if (!resource) throw notFound()
        await runJob(tx, { action, target: id, dueAt: Date.now() }, [])
        return stored(await tx.get<Transfer | Payout>(collection, id), `${collection} ${id}`)
      })
      return { data: settled }
    })
  }

  async function creations(): Promise<Creation[]> {
    return (await state.read.list<Idempotency>('idempotency')).map(({ id: idempotencyKey, doc }) => ({ kind: doc.kind, id: doc.id, idempotencyKey, requests: doc.requests }))
  }

  return {
    app,
    webhooks,
    masterWalletId,
    controlToken,
    /** Headers for the control routes. */
    controlHeaders: { authorization: `Bearer ${controlToken}` },
    state,
    received,
    /** Each resource created through an idempotency key, in creation order. */
    creations,
    get faults() {
      return faults
    },
    setFaults(next: Partial<Faults>) {
      faults = { ...noFaults(), ...next }
      webhooks.faults = faults.webhooks
    },
    balanceOf: async (walletId: string) => {
      const w = await state.read.get<Wallet>('wallets', walletId)
      return w === undefined ? undefined : BigInt(w.balance)
    },
    card: (id: string) => state.read.get<Card>('cards', id),
    async listen(port = 0, host = '127.0.0.1'): Promise<string> {
      const url = await app.listen({ port, host })
      webhooks.certUrl = `${url}/sns/cert.pem`
      return url
    },
    async close(): Promise<void> {
      for (const timer of timers) clearTimeout(timer)
      clearInterval(sweeper)
      closing.abort()
      webhooks.close()
      await app.close()
      await state.close()
    },
  }
}

export type CircleSimulator = Awaited<ReturnType<typeof createCircleSimulator>>
