import { createHash, randomBytes, randomInt, randomUUID } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import Fastify, { type FastifyReply, type FastifyRequest } from 'fastify'
import { formatAmount, parseCircleAmount } from '../../../events/money.ts'
import { canonicalJson } from '../../../http/plugins/idempotency.ts'
import { requestErrors } from './contract.ts'
import { SNS_TOPIC_ARN, snsTestCertificate, WebhookDispatcher, type WebhookFaults } from './webhooks.ts'

/** Faults injected on demand, set per test through `PUT /sim/faults`. */
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
  webhooks: { dropRate: 0, duplicateRate: 0, reorderMs: 0 },
})

export interface SimulatorOptions {
  /** Treasury (master wallet) balance, decimal string. */
  treasury?: string
  /** How long resources stay pending before they settle (ms). */
  settleMs?: number
  webhookRetries?: number
  webhookRetryDelayMs?: number
}

type Status = 'pending' | 'running' | 'complete' | 'failed'
type Money = { amount: string; currency: 'USD' }
interface Wallet { walletId: string; entityId: string; type: string; description: string; balance: bigint }
interface Transfer {
  id: string
  source: { type: 'wallet'; id: string } | { type: 'blockchain'; chain: string }
  destination: { type: 'wallet'; id: string; address?: string } | { type: 'blockchain'; address: string; addressTag?: string; chain: string }
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
interface Card { id: string; walletId: string; cardholderName: string; status: 'pending' | 'active' | 'frozen' | 'closed'; last4: string; expMonth: number; expYear: number; network: string; createDate: string }

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

const now = () => new Date().toISOString()
const usd = (micro: bigint): Money => ({ amount: formatAmount(micro), currency: 'USD' })
const BASE58 = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz'
const base58 = (n: number) => Array.from(randomBytes(n), (b) => BASE58[b % 58]).join('')
const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567'

/** A plausible deposit address for a chain (format only). */
function fakeAddress(chain: string): { address: string; addressTag?: string } {
  switch (chain) {
    case 'SOL':
      return { address: base58(44).replace(/^./, '4').slice(0, 44) }
    case 'XLM':
      return { address: 'G' + Array.from(randomBytes(55), (b) => BASE32[b % 32]).join(''), addressTag: String(randomInt(1_000_000, 9_999_999)) }
    case 'HBAR':
      return { address: `0.0.${randomInt(1000, 9_999_999)}`, addressTag: String(randomInt(1_000_000, 9_999_999)) }
    case 'ALGO':
      return { address: Array.from(randomBytes(58), (b) => BASE32[b % 32]).join('') }
    case 'TRX':
      return { address: 'T' + base58(33) }
    default:
      return { address: '0x' + randomBytes(20).toString('hex') }
  }
}

/**
 * A local stand-in for Circle's Core API (the subset we call) plus a card issuer, so the real SDK
 * is exercised over HTTP. Idempotent like Circle, balances that move, resources that settle after
 * a delay, signed webhooks, and faults on demand.
 */
export async function createCircleSimulator(options: SimulatorOptions = {}) {
  const app = Fastify({ logger: false, bodyLimit: 1024 * 1024, forceCloseConnections: true })
  const settleMs = options.settleMs ?? 200
  const masterWalletId = '1000000001'
  const wallets = new Map<string, Wallet>([[masterWalletId, { walletId: masterWalletId, entityId: randomUUID(), type: 'merchant', description: 'Master Wallet', balance: parseCircleAmount(options.treasury ?? '1000000.00') }]])
  const addresses = new Map<string, { walletId: string; address: string; addressTag?: string; currency: 'USD'; chain: string }[]>()
  const transfers = new Map<string, Transfer>()
  const wires = new Map<string, Wire>()
  const payouts = new Map<string, Payout>()
  const cards = new Map<string, Card>()
  const idempotency = new Map<string, { hash: string; status: number; body: unknown; kind: string; id: string }>()
  const creations: Creation[] = []
  const confirmedSubscribers = new Set<string>()
  const timers = new Set<NodeJS.Timeout>()
  const received: { method: string; path: string; idempotencyKey?: string; at: number }[] = []
  let faults = noFaults()
  // Held answers and latency end when the simulator closes, so close() never waits on them.
  const closing = new AbortController()
  const pause = (ms: number) => sleep(ms, undefined, { signal: closing.signal }).catch(() => undefined)
  let nextWallet = 1000000100
  const webhooks = new WebhookDispatcher({ ...(options.webhookRetries === undefined ? {} : { retries: options.webhookRetries }), ...(options.webhookRetryDelayMs === undefined ? {} : { retryDelayMs: options.webhookRetryDelayMs }) })

  const later = (fn: () => void) => {
    const timer = setTimeout(() => {
      timers.delete(timer)
      fn()
    }, settleMs)
    timers.add(timer)
  }

  // Circle's API and document know pending/complete/failed; only webhooks carry `running`.
  const publicTransfer = (t: Transfer) => ({ ...structuredClone(t), status: t.status === 'running' ? 'pending' : t.status })
  const notifyTransfer = (t: Transfer) => webhooks.notify('transfers', 'transfer', structuredClone(t))
  const publicWallet = (w: Wallet) => ({ walletId: w.walletId, entityId: w.entityId, type: w.type, description: w.description, balances: w.balance > 0n ? [usd(w.balance)] : [] })

  app.setErrorHandler((err, _request, reply) => {
    if (err instanceof CircleApiError) return reply.code(err.status).send({ code: err.code, message: err.message, ...(err.errors ? { errors: err.errors } : {}) })
    const status = (err as { statusCode?: number }).statusCode
    if (status && status < 500) return reply.code(400).send({ code: 2, message: 'Invalid entity.' })
    return reply.code(500).send({ code: -1, message: 'Something went wrong.' })
  })

  const isApi = (url: string) => url.startsWith('/v1/') || url.startsWith('/v2/') || url.startsWith('/issuing/')

  app.addHook('onRequest', async (request, reply) => {
    if (!isApi(request.url)) return
    if (!/^Bearer \S+$/.test(request.headers.authorization ?? '')) return reply.code(401).send({ code: 1, message: 'Malformed authorization.' })
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
    received.push({ method: request.method, path: request.url.split('?')[0]!, ...(typeof key === 'string' ? { idempotencyKey: key } : {}), at: Date.now() })
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
   * A replay is answered before `create` runs, so its checks (balances...) see the first request's effects only once.
   */
  async function idempotent(request: FastifyRequest, reply: FastifyReply, kind: string, create: () => { id: string; body: unknown }) {
    const body = request.body as { idempotencyKey: string }
    const key = body.idempotencyKey
    const hash = createHash('sha256').update(`${request.url}\n${canonicalJson(body)}`).digest('hex')
    const seen = idempotency.get(key)
    if (seen) {
      if (seen.hash !== hash) throw new CircleApiError(409, 1083, 'Idempotency key already bound to other request.')
      const creation = creations.find((c) => c.idempotencyKey === key)
      if (creation) creation.requests++
      return reply.code(seen.status).send({ data: seen.body })
    }
    const { id, body: resource } = create()
    idempotency.set(key, { hash, status: 201, body: resource, kind, id })
    creations.push({ kind, id, idempotencyKey: key, requests: 1 })
    if (faults.holdCreates.kinds.includes(kind)) (request as FastifyRequest & { holdMs?: number }).holdMs = faults.holdCreates.ms
    return reply.code(201).send({ data: resource })
  }

  /** Registers a Circle route under its OpenAPI path; bodies are checked against Circle's document first. */
  function circleRoute(method: 'GET' | 'POST', openapiPath: string, handler: (request: FastifyRequest, reply: FastifyReply) => unknown) {
    app.route({
      method,
      url: openapiPath.replace(/\{(\w+)\}/g, ':$1'),
      handler: async (request, reply) => {
        if (method === 'POST') {
          const errors = requestErrors(method, openapiPath, request.body ?? {})
          if (errors.length > 0) {
            throw new CircleApiError(400, 2, `Invalid entity.\n${errors.map((e) => `${e.location} ${e.message}`).join('\n')}`, errors)
          }
        }
        return handler(request, reply)
      },
    })
  }

  const param = (request: FastifyRequest, name: string) => (request.params as Record<string, string>)[name]!
  const notFound = () => new CircleApiError(404, 404, 'Not found.')

  /** GET one resource by the path's last parameter: `{data}`, or 404. */
  function readRoute<T>(openapiPath: string, resources: Map<string, T>, view: (resource: T) => unknown = (r) => r) {
    const name = /\{(\w+)\}$/.exec(openapiPath)![1]!
    circleRoute('GET', openapiPath, async (request) => {
      const resource = resources.get(param(request, name))
      if (!resource) throw notFound()
      return { data: view(resource) }
    })
  }

  circleRoute('GET', '/v1/configuration', async () => ({ data: { payments: { masterWalletId } } }))

  circleRoute('POST', '/v1/wallets', async (request, reply) =>
    idempotent(request, reply, 'wallet', () => {
      const walletId = String(nextWallet++)
      const wallet: Wallet = { walletId, entityId: randomUUID(), type: 'end_user_wallet', description: (request.body as { description?: string }).description ?? '', balance: 0n }
      wallets.set(walletId, wallet)
      return { id: walletId, body: publicWallet(wallet) }
    }),
  )
  readRoute('/v1/wallets/{walletId}', wallets, publicWallet)
  circleRoute('POST', '/v1/wallets/{walletId}/addresses', async (request, reply) => {
    const walletId = param(request, 'walletId')
    return idempotent(request, reply, 'address', () => {
      if (!wallets.has(walletId)) throw notFound()
      const chain = (request.body as { chain: string }).chain
      const entry = { walletId, ...fakeAddress(chain), currency: 'USD' as const, chain }
      addresses.set(walletId, [...(addresses.get(walletId) ?? []), entry])
      const { walletId: _w, ...body } = entry
      return { id: entry.address, body }
    })
  })

  circleRoute('POST', '/v1/businessAccount/banks/wires', async (request, reply) =>
    idempotent(request, reply, 'wire', () => {
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
      wires.set(wire.id, wire)
      later(() => {
        wire.status = 'complete'
        wire.updateDate = now()
        webhooks.notify('wire', 'wire', structuredClone(wire))
      })
      return { id: wire.id, body: structuredClone(wire) }
    }),
  )
  readRoute('/v1/businessAccount/banks/wires/{id}', wires)

  circleRoute('GET', '/v1/businessAccount/balances', async () => ({ data: { available: [usd(wallets.get(masterWalletId)!.balance)], unsettled: [] } }))

  function settleTransfer(transfer: Transfer, sourceWallet: Wallet | undefined, amount: bigint) {
    const failed =
      faults.failAmounts.includes(transfer.amount.amount) || (transfer.destination.type === 'blockchain' && faults.failAddresses.includes(transfer.destination.address))
    if (transfer.destination.type === 'blockchain' && !failed) {
      transfer.status = 'running'
      transfer.transactionHash = '0x' + randomBytes(32).toString('hex')
      notifyTransfer(transfer)
    }
    later(() => {
      if (failed) {
        transfer.status = 'failed'
        transfer.errorCode = 'transfer_failed'
        delete transfer.transactionHash
        if (sourceWallet) sourceWallet.balance += amount
      } else {
        transfer.status = 'complete'
        if (transfer.destination.type === 'wallet') wallets.get(transfer.destination.id)!.balance += amount
      }
      notifyTransfer(transfer)
    })
  }

  circleRoute('POST', '/v1/transfers', async (request, reply) => {
    const b = request.body as { idempotencyKey: string; source: { id: string }; destination: Transfer['destination']; amount: Money }
    return idempotent(request, reply, 'transfer', () => {
      const source = wallets.get(b.source.id)
      if (!source) throw new CircleApiError(400, 1088, 'Invalid source account.')
      if (b.destination.type === 'wallet' && !wallets.has(b.destination.id)) throw new CircleApiError(400, 1089, 'Invalid destination account.')
      const amount = parseCircleAmount(b.amount.amount)
      if (amount <= 0n) throw new CircleApiError(400, 2, 'Invalid entity.\namount must be positive')
      if (source.balance < amount) throw new CircleApiError(400, 1093, 'Insufficient funds.')
      source.balance -= amount
      const destination: Transfer['destination'] =
        b.destination.type === 'wallet'
          ? { type: 'wallet', id: b.destination.id }
          : { type: 'blockchain', address: b.destination.address, chain: b.destination.chain, ...(b.destination.addressTag ? { addressTag: b.destination.addressTag } : {}) }
      const transfer: Transfer = { id: randomUUID(), source: { type: 'wallet', id: source.walletId }, destination, amount: usd(amount), status: 'pending', createDate: now() }
      transfers.set(transfer.id, transfer)
      notifyTransfer(transfer)
      settleTransfer(transfer, source, amount)
      return { id: transfer.id, body: publicTransfer(transfer) }
    })
  })
  readRoute('/v1/transfers/{id}', transfers, publicTransfer)

  circleRoute('POST', '/v1/businessAccount/payouts', async (request, reply) => {
    const b = request.body as { idempotencyKey: string; destination: { id: string }; amount: Money }
    return idempotent(request, reply, 'payout', () => {
      const wire = wires.get(b.destination.id)
      if (!wire || wire.status !== 'complete') throw new CircleApiError(400, 1089, 'Invalid destination account.')
      const master = wallets.get(masterWalletId)!
      const amount = parseCircleAmount(b.amount.amount)
      if (master.balance < amount) throw new CircleApiError(400, 5006, 'Insufficient funds.')
      master.balance -= amount
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
      payouts.set(payout.id, payout)
      webhooks.notify('payouts', 'payout', structuredClone(payout))
      later(() => {
        if (faults.failPayoutAmounts.includes(payout.amount.amount)) {
          payout.status = 'failed'
          payout.errorCode = 'bank_transaction_error'
          master.balance += amount
        } else payout.status = 'complete'
        payout.updateDate = now()
        webhooks.notify('payouts', 'payout', structuredClone(payout))
      })
      return { id: payout.id, body: structuredClone(payout) }
    })
  })
  readRoute('/v1/businessAccount/payouts/{id}', payouts)

  app.get('/v2/notifications/publicKey/:id', async (request) => {
    const { id } = request.params as { id: string }
    if (id !== webhooks.keyId) throw notFound()
    return { data: { id, algorithm: 'ECDSA_SHA_256', publicKey: webhooks.publicKeyDer, createDate: now() } }
  })
  app.get('/sns/cert.pem', async (_request, reply) => reply.type('application/x-pem-file').send(snsTestCertificate))

  // Card issuing: not part of Circle (its SDK has none); the bundled CardIssuer talks to these routes.
  const cardOf = (request: FastifyRequest) => {
    const card = cards.get(param(request, 'id'))
    if (!card) throw notFound()
    return card
  }
  app.post('/issuing/v1/cards', async (request, reply) => {
    const b = (request.body ?? {}) as { idempotencyKey?: string; walletId?: string; cardholderName?: string }
    if (!b.idempotencyKey || !b.walletId || !b.cardholderName) {
      throw new CircleApiError(400, 2, 'Invalid entity.', [{ error: 'required', location: !b.idempotencyKey ? 'idempotencyKey' : !b.walletId ? 'walletId' : 'cardholderName', message: 'may not be null' }])
    }
    return idempotent(request, reply, 'card', () => {
      const card: Card = { id: randomUUID(), walletId: b.walletId!, cardholderName: b.cardholderName!, status: 'pending', last4: String(randomInt(1000, 9999)), expMonth: randomInt(1, 13), expYear: new Date().getUTCFullYear() + 4, network: 'VISA', createDate: now() }
      cards.set(card.id, card)
      later(() => {
        if (card.status === 'pending') card.status = 'active'
        webhooks.notify('cards', 'card', structuredClone(card))
      })
      return { id: card.id, body: structuredClone(card) }
    })
  })
  app.get('/issuing/v1/cards/:id', async (request) => ({ data: cardOf(request) }))
  for (const [action, to] of [['freeze', 'frozen'], ['unfreeze', 'active'], ['close', 'closed']] as const) {
    app.post(`/issuing/v1/cards/:id/${action}`, async (request) => {
      const card = cardOf(request)
      if (card.status === 'closed' && to !== 'closed') throw new CircleApiError(400, 2, 'Card is closed.')
      if (card.status === 'pending') throw new CircleApiError(400, 2, 'Card is not issued yet.')
      card.status = to
      webhooks.notify('cards', 'card', structuredClone(card))
      return { data: card }
    })
  }

  // Simulator control, for tests and local runs.
  app.put('/sim/faults', async (request) => {
    faults = { ...noFaults(), ...(request.body as Partial<Faults>) }
    webhooks.faults = faults.webhooks
    return faults
  })
  app.get('/sim/faults', async () => faults)
  app.get('/sim/inspect', async () => ({ creations, received: received.length }))
  app.post('/sim/webhooks', async (request) => {
    const b = request.body as { url: string; version?: 'v1' | 'v2'; signatureVersion?: '1' | '2' }
    const subscriber = { id: randomUUID(), url: b.url, version: b.version ?? 'v2', ...(b.signatureVersion ? { signatureVersion: b.signatureVersion } : {}) }
    webhooks.subscribers.push(subscriber)
    if (subscriber.version === 'v1') webhooks.confirmSubscription(subscriber)
    return subscriber
  })
  /** SNS's SubscribeURL: the subscriber confirms by GETting it. */
  app.get('/sns/confirm', async (request) => {
    const { subscriber } = request.query as { subscriber?: string }
    if (!subscriber || !webhooks.subscribers.some((s) => s.id === subscriber)) throw notFound()
    confirmedSubscribers.add(subscriber)
    return { ConfirmSubscriptionResponse: { ConfirmSubscriptionResult: { SubscriptionArn: `${SNS_TOPIC_ARN}:${subscriber}` } } }
  })
  app.get('/sim/webhooks', async () => ({ subscribers: webhooks.subscribers.map((s) => ({ ...s, confirmed: s.version === 'v2' || confirmedSubscribers.has(s.id) })) }))
  /** The issuer changes a card on its own (e.g. a fraud freeze), and says so in a card event. */
  app.post('/sim/cards/:id/status', async (request) => {
    const card = cardOf(request)
    card.status = (request.body as { status: Card['status'] }).status
    webhooks.notify('cards', 'card', structuredClone(card))
    return { data: card }
  })
  app.put('/sim/treasury', async (request) => {
    wallets.get(masterWalletId)!.balance = parseCircleAmount((request.body as { amount: string }).amount)
    return { amount: formatAmount(wallets.get(masterWalletId)!.balance) }
  })
  /** An inbound on-chain deposit to one of a wallet's addresses. */
  app.post('/sim/deposits', async (request) => {
    const b = request.body as { walletId: string; amount: string; chain?: string }
    const wallet = wallets.get(b.walletId)
    if (!wallet) throw notFound()
    const amount = parseCircleAmount(b.amount)
    const chain = b.chain ?? 'ETH'
    const address = addresses.get(b.walletId)?.find((a) => a.chain === chain)?.address ?? fakeAddress(chain).address
    const transfer: Transfer = { id: randomUUID(), source: { type: 'blockchain', chain }, destination: { type: 'wallet', id: wallet.walletId, address }, amount: usd(amount), status: 'pending', createDate: now(), transactionHash: '0x' + randomBytes(32).toString('hex') }
    transfers.set(transfer.id, transfer)
    notifyTransfer(transfer)
    later(() => {
      transfer.status = 'complete'
      wallet.balance += amount
      notifyTransfer(transfer)
    })
    return { data: publicTransfer(transfer) }
  })

  return {
    app,
    webhooks,
    masterWalletId,
    creations,
    received,
    get faults() {
      return faults
    },
    setFaults(next: Partial<Faults>) {
      faults = { ...noFaults(), ...next }
      webhooks.faults = faults.webhooks
    },
    balanceOf: (walletId: string) => wallets.get(walletId)?.balance,
    cards,
    async listen(port = 0, host = '127.0.0.1'): Promise<string> {
      const url = await app.listen({ port, host })
      webhooks.certUrl = `${url}/sns/cert.pem`
      return url
    },
    async close(): Promise<void> {
      for (const timer of timers) clearTimeout(timer)
      closing.abort()
      webhooks.close()
      await app.close()
    },
  }
}

export type CircleSimulator = Awaited<ReturnType<typeof createCircleSimulator>>
