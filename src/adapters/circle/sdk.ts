import { Circle } from '@circle-fin/circle-sdk'
import type { Logger } from 'pino'
import { z } from 'zod'
import { formatAmount, InvalidAmount, parseCircleAmount } from '../../events/money.ts'
import {
  CircleError,
  type CircleAddress,
  type CircleDestination,
  type CircleListQuery,
  type CircleMoney,
  type CirclePayout,
  type CirclePort,
  type CircleTransfer,
  type CircleWallet,
  type CircleWireAccount,
  type ListOptions,
  type WireAccountDetails,
} from './port.ts'
import { withRetries } from '../retry.ts'
import { isOperatorStatus, isTransientStatus } from '../upstream-error.ts'
import type { Metrics } from '../../metrics.ts'
import { TokenBucket } from './rate-limiter.ts'

/** What every SDK call is given (axios request options). */
type RequestOptions = { timeout: number; maxRedirects: number }

export interface CircleSdkOptions {
  apiKey: string
  baseUrl: string
  /** Per-call timeout; the SDK's default is none. */
  timeoutMs?: number
  /** Attempts per call for transient failures, all with the same idempotency key. */
  maxAttempts?: number
  backoff?: { baseMs: number; maxMs: number }
  /** Client-side limit on calls per second (Circle publishes none; sandbox throttles after a few). */
  ratePerSecond?: number
  logger?: Logger
  /** Counts and times every call (each attempt) by operation and outcome, when given. */
  metrics?: Pick<Metrics, 'circleCalls' | 'circleCallDuration'>
}

// Circle's payloads, validated here because the SDK's types are loose and its enums stale.
const money = z.object({ amount: z.string(), currency: z.string() })
const walletSchema = z.object({ walletId: z.string().min(1), balances: z.array(money).default([]) })
const addressSchema = z.object({ address: z.string().min(1), addressTag: z.string().optional(), chain: z.string() })
const wireSchema = z.object({ id: z.string().min(1), status: z.enum(['pending', 'complete', 'failed']), description: z.string().optional() })
const statusSchema = z.enum(['pending', 'running', 'complete', 'failed'])
const transferSchema = z.object({
  id: z.string().min(1),
  source: z.object({ type: z.string(), id: z.string().optional(), chain: z.string().optional() }),
  destination: z.object({ type: z.string(), id: z.string().optional(), address: z.string().optional(), addressTag: z.string().optional(), chain: z.string().optional() }),
  amount: money,
  transactionHash: z.string().optional(),
  status: statusSchema,
  errorCode: z.string().optional(),
  createDate: z.string().optional(),
})
const payoutSchema = z.object({ id: z.string().min(1), amount: money, status: z.enum(['pending', 'complete', 'failed']), errorCode: z.string().optional(), createDate: z.string().optional() })
/** Circle's largest page; fewer items than this means the last page. */
const PAGE_SIZE = 50
const balancesSchema = z.object({ available: z.array(money), unsettled: z.array(money).default([]) })
const configSchema = z.object({ payments: z.object({ masterWalletId: z.string().min(1) }) })

const usd = (balances: { amount: string; currency: string }[]) =>
  balances.filter((b) => b.currency === 'USD').reduce((sum, b) => sum + parseCircleAmount(b.amount), 0n)

/**
 * Circle's money: in micro-units only when it is USD (USDC) written as USDC can be. Any other
 * currency, or a USD amount the ledger cannot read (a sign, more than 6 decimals), keeps only
 * Circle's text: one such transfer must not fail a whole listing, and is never booked.
 */
const toMoney = (m: z.infer<typeof money>): CircleMoney => ({
  currency: m.currency,
  amount: m.currency === 'USD' ? readableUsdc(m.amount) : undefined,
  amountText: m.amount,
})

function readableUsdc(text: string): bigint | undefined {
  try {
    return parseCircleAmount(text)
  } catch (err) {
    if (err instanceof InvalidAmount) return undefined
    throw err
  }
}

export function toTransfer(t: z.infer<typeof transferSchema>): CircleTransfer {
  const destination: CircleDestination =
    t.destination.type === 'wallet'
      ? { type: 'wallet', id: t.destination.id ?? '' }
      : { type: 'blockchain', chain: t.destination.chain ?? '', address: t.destination.address ?? '', ...(t.destination.addressTag ? { addressTag: t.destination.addressTag } : {}) }
  const out: CircleTransfer = { id: t.id, status: t.status, ...toMoney(t.amount), destination }
  if (t.source.type === 'wallet' && t.source.id) out.sourceWalletId = t.source.id
  if (t.source.type === 'blockchain' && t.source.chain) out.sourceChain = t.source.chain
  if (t.transactionHash) out.txHash = t.transactionHash
  if (t.errorCode) out.errorCode = t.errorCode
  if (t.createDate) out.createDate = t.createDate
  return out
}

/**
 * CirclePort on the official SDK. Every call has a timeout, waits for the client-side rate limiter,
 * and retries transient failures (timeout, network, 429, 5xx, code -1) with exponential backoff and
 * full jitter, always with the same idempotency key. Refusals (other 4xx) throw at once with
 * Circle's code and message.
 */
export class CircleSdkAdapter implements CirclePort {
  private readonly sdk: Circle
  private readonly timeoutMs: number
  private readonly maxAttempts: number
  private readonly backoff: { baseMs: number; maxMs: number }
  private readonly limiter: TokenBucket
  private readonly logger: Logger | undefined
  private readonly metrics: CircleSdkOptions['metrics']
  private master: Promise<string> | undefined
  /** What the last answer said about our key: a problem (401/403) until a call succeeds again. */
  private access: { problem: string | undefined; at: number } | undefined

  constructor(options: CircleSdkOptions) {
    this.sdk = new Circle(options.apiKey, options.baseUrl)
    this.timeoutMs = options.timeoutMs ?? 10_000
    this.maxAttempts = options.maxAttempts ?? 6
    this.backoff = options.backoff ?? { baseMs: 200, maxMs: 10_000 }
    this.limiter = new TokenBucket(options.ratePerSecond ?? 8)
    this.logger = options.logger
    this.metrics = options.metrics
  }

  /**
   * Each call's axios options. Circle's API does not redirect, and with redirects off axios sends
   * through node:http itself instead of wrapping every request in follow-redirects (0.9% of the
   * service's CPU in the commands benchmark); a 3xx is then an unexpected answer like any other.
   */
  private requestOptions(): RequestOptions {
    return { timeout: this.timeoutMs, maxRedirects: 0 }
  }

  /**
   * What is wrong with our access to Circle, or undefined: the last call's verdict, or, when nothing
   * was called for `maxAgeMs`, a probe (the account configuration, one attempt, our key).
   */
  async accessProblem(maxAgeMs = 30_000): Promise<string | undefined> {
    if (!this.access || Date.now() - this.access.at >= maxAgeMs) {
      try {
        await this.sdk.management.getAccountConfig(this.requestOptions())
        this.access = { problem: undefined, at: Date.now() }
      } catch (err) {
        const e = classify('getAccountConfig', err)
        this.access = { problem: e.operator ? `Circle refused our API key (HTTP ${e.status})` : `Circle did not answer: ${e.message}`, at: Date.now() }
      }
    }
    return this.access.problem
  }

  masterWalletId(): Promise<string> {
    this.master ??= this.call('getAccountConfig', (o) => this.sdk.management.getAccountConfig(o), configSchema).then((c) => c.payments.masterWalletId)
    this.master.catch(() => (this.master = undefined))
    return this.master
  }

  async createWallet(request: { idempotencyKey: string; description?: string }): Promise<CircleWallet> {
    const w = await this.call('createWallet', (o) => this.sdk.wallets.createWallet({ idempotencyKey: request.idempotencyKey, description: request.description ?? '' }, o), walletSchema)
    return { walletId: w.walletId, balance: usd(w.balances) }
  }

  async getWallet(walletId: string): Promise<CircleWallet> {
    const w = await this.call('getWallet', (o) => this.sdk.wallets.getWallet(walletId, o), walletSchema)
    return { walletId: w.walletId, balance: usd(w.balances) }
  }

  async createDepositAddress(walletId: string, request: { idempotencyKey: string; chain: string }): Promise<CircleAddress> {
    const a = await this.call(
      'generateAddress',
      (o) => this.sdk.wallets.generateAddress(walletId, { idempotencyKey: request.idempotencyKey, currency: 'USD', chain: request.chain as never }, o),
      addressSchema,
    )
    return a.addressTag ? { address: a.address, addressTag: a.addressTag, chain: a.chain } : { address: a.address, chain: a.chain }
  }

  async createWireAccount(request: { idempotencyKey: string; details: WireAccountDetails }): Promise<CircleWireAccount> {
    const body = { idempotencyKey: request.idempotencyKey, ...request.details }
    const w = await this.call('createBusinessWireAccount', (o) => this.sdk.wires.createBusinessWireAccount(body as never, o), wireSchema)
    return w.description === undefined ? { id: w.id, status: w.status } : { id: w.id, status: w.status, description: w.description }
  }

  async getWireAccount(id: string): Promise<CircleWireAccount> {
    const w = await this.call('getBusinessWireAccount', (o) => this.sdk.wires.getBusinessWireAccount(id, o), wireSchema)
    return { id: w.id, status: w.status }
  }

  async treasuryBalance(): Promise<bigint> {
    const b = await this.call('listBusinessBalances', (o) => this.sdk.balances.listBusinessBalances(o), balancesSchema)
    return usd(b.available)
  }

  async createTransfer(request: { idempotencyKey: string; sourceWalletId: string; destination: CircleDestination; amount: bigint }): Promise<CircleTransfer> {
    const destination =
      request.destination.type === 'wallet'
        ? { type: 'wallet', id: request.destination.id }
        : { type: 'blockchain', address: request.destination.address, chain: request.destination.chain, ...(request.destination.addressTag ? { addressTag: request.destination.addressTag } : {}) }
    const body = {
      idempotencyKey: request.idempotencyKey,
      source: { type: 'wallet', id: request.sourceWalletId },
      destination,
      amount: { amount: formatAmount(request.amount), currency: 'USD' },
    }
    return toTransfer(await this.call('createTransfer', (o) => this.sdk.transfers.createTransfer(body as never, o), transferSchema))
  }

  async getTransfer(id: string): Promise<CircleTransfer> {
    return toTransfer(await this.call('getTransfer', (o) => this.sdk.transfers.getTransfer(id, undefined, o), transferSchema))
  }

  async listTransfers(query: { from?: string; pageAfter?: string; pageSize?: number }): Promise<CircleTransfer[]> {
    const page = await this.call(
      'listTransfers',
      (o) => this.sdk.transfers.listTransfers(undefined, undefined, undefined, undefined, query.from, undefined, undefined, query.pageAfter, query.pageSize, o),
      z.array(transferSchema),
    )
    return page.map(toTransfer)
  }

  async createPayout(request: { idempotencyKey: string; wireAccountId: string; amount: bigint }): Promise<CirclePayout> {
    const body = { idempotencyKey: request.idempotencyKey, destination: { type: 'wire', id: request.wireAccountId }, amount: { amount: formatAmount(request.amount), currency: 'USD' } }
    return toPayout(await this.call('createBusinessPayout', (o) => this.sdk.payouts.createBusinessPayout(body as never, o), payoutSchema))
  }

  async getPayout(id: string): Promise<CirclePayout> {
    return toPayout(await this.call('getBusinessPayout', (o) => this.sdk.payouts.getBusinessPayout(id, o), payoutSchema))
  }

  async listAllTransfers(query: CircleListQuery & { walletId?: string }, options: ListOptions<CircleTransfer> = {}): Promise<CircleTransfer[]> {
    return this.pages(
      'listTransfers',
      (pageAfter, o) => this.sdk.transfers.listTransfers(query.walletId, undefined, undefined, undefined, query.from, query.to, undefined, pageAfter, PAGE_SIZE, o),
      transferSchema,
      toTransfer,
      options,
    )
  }

  async listPayouts(query: CircleListQuery, options: ListOptions<CirclePayout> = {}): Promise<CirclePayout[]> {
    return this.pages(
      'listBusinessPayouts',
      (pageAfter, o) => this.sdk.payouts.listBusinessPayouts(undefined, undefined, undefined, query.from, query.to, undefined, pageAfter, PAGE_SIZE, o),
      payoutSchema,
      toPayout,
      options,
    )
  }

  /**
   * Follows Circle's `pageAfter` (older items) until a short page; each page is one rate-limited
   * call. Each page is converted and filtered as it comes, so only what is kept stays in memory.
   */
  private async pages<T extends { id: string }, U>(
    operation: string,
    send: (pageAfter: string | undefined, options: RequestOptions) => Promise<{ data: unknown }>,
    item: z.ZodType<T>,
    convert: (item: T) => U,
    options: ListOptions<U>,
  ): Promise<U[]> {
    const kept: U[] = []
    let read = 0
    let after: string | undefined
    for (;;) {
      const page = await this.call(operation, (o) => send(after, o), z.array(item))
      read += page.length
      for (const raw of page) {
        const converted = convert(raw)
        if (options.keep === undefined || options.keep(converted)) kept.push(converted)
      }
      options.onPage?.(read)
      const last = page.at(-1)
      if (last === undefined || page.length < PAGE_SIZE) return kept
      after = last.id
    }
  }

  /** Every Circle call at debug level, with its duration and status, and in the metrics. */
  private observe(operation: string, started: number, outcome: string, status?: number, code?: number | string): void {
    const seconds = (performance.now() - started) / 1000
    this.metrics?.circleCalls.inc({ operation, outcome })
    this.metrics?.circleCallDuration.observe({ operation }, seconds)
    this.logger?.debug({ operation, outcome, status, ...(code === undefined ? {} : { code }), durationMs: Math.round(seconds * 10_000) / 10 }, `circle ${operation} ${status ?? outcome}`)
  }

  private call<T>(operation: string, send: (options: RequestOptions) => Promise<{ data: unknown; status?: number }>, schema: z.ZodType<T>): Promise<T> {
    return withRetries(
      operation,
      async () => {
        let res
        const started = performance.now()
        try {
          res = await send(this.requestOptions())
          this.observe(operation, started, 'ok', res.status)
        } catch (err) {
          const classified = classify(operation, err)
          if (classified.operator) this.access = { problem: `Circle refused our API key (HTTP ${classified.status})`, at: Date.now() }
          this.observe(operation, started, outcomeOf(classified), classified.status, classified.code)
          throw classified
        }
        this.access = { problem: undefined, at: Date.now() }
        const parsed = schema.safeParse((res.data as { data?: unknown } | undefined)?.data)
        if (parsed.success) return parsed.data
        // A 2xx without the expected resource is not success; transient, so it is retried and seen.
        throw new CircleError(`${operation}: unexpected response from Circle`, { transient: true, code: 'invalid_response', cause: parsed.error })
      },
      { maxAttempts: this.maxAttempts, backoff: this.backoff, beforeAttempt: () => this.limiter.take(), logger: this.logger },
    )
  }
}

/** How a failed call is counted: Circle's refusal, or the kind of transient failure. */
function outcomeOf(err: CircleError): string {
  if (!err.transient) return 'refused'
  if (err.status === 429) return 'rate_limited'
  if (err.status !== undefined) return 'server_error'
  return err.code === 'ECONNABORTED' || err.code === 'ETIMEDOUT' ? 'timeout' : 'network'
}

export function toPayout(p: z.infer<typeof payoutSchema>): CirclePayout {
  const out: CirclePayout = { id: p.id, status: p.status, ...toMoney(p.amount) }
  if (p.errorCode) out.errorCode = p.errorCode
  if (p.createDate) out.createDate = p.createDate
  return out
}

/**
 * Timeouts, network errors, 408, 429, 5xx and Circle's code -1 are transient; 401 and 403 mean our
 * key is wrong (an operator problem); any other answer is Circle's refusal. The axios error is not kept as the cause: it carries the request body (a wire
 * account's full number) and would put it in every log line that records the error.
 */
export function classify(operation: string, err: unknown): CircleError {
  const e = err as { response?: { status?: number; data?: { code?: unknown; message?: unknown } }; code?: string; message?: string }
  const status = e.response?.status
  if (status === undefined) {
    return new CircleError(`${operation}: ${e.code ?? 'network error'} ${e.message ?? ''}`.trim(), { transient: true, code: e.code ?? 'network' })
  }
  const code = typeof e.response?.data?.code === 'number' ? e.response.data.code : status
  const message = typeof e.response?.data?.message === 'string' ? e.response.data.message : `HTTP ${status}`
  const transient = isTransientStatus(status) || code === -1
  return new CircleError(`${operation}: ${message}`, { transient, operator: isOperatorStatus(status), status, code })
}
