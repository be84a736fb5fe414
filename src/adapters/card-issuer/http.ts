import type { Logger } from 'pino'
import { z } from 'zod'
import { withRetries } from '../retry.ts'
import { isOperatorStatus, isTransientStatus } from '../upstream-error.ts'
import { CardIssuerError, type CallOptions, type CardIssuer, type IssuedCard } from './port.ts'

const cardSchema = z.object({
  id: z.string().min(1),
  status: z.enum(['pending', 'active', 'frozen', 'closed', 'failed']),
  last4: z.string().regex(/^[0-9]{4}$/),
  expMonth: z.number().int(),
  expYear: z.number().int(),
  network: z.string(),
})

export interface HttpCardIssuerOptions {
  baseUrl: string
  apiKey: string
  timeoutMs?: number
  maxAttempts?: number
  backoff?: { baseMs: number; maxMs: number }
  logger?: Logger
}

/** CardIssuer over the simulator's `/issuing/v1/cards` routes, with timeouts and retries like the Circle adapter. */
export class HttpCardIssuer implements CardIssuer {
  private readonly options: Required<Omit<HttpCardIssuerOptions, 'logger'>> & { logger: Logger | undefined }

  constructor(options: HttpCardIssuerOptions) {
    this.options = { timeoutMs: 10_000, maxAttempts: 6, backoff: { baseMs: 200, maxMs: 10_000 }, ...options, logger: options.logger }
  }

  issue(request: { idempotencyKey: string; walletId: string; cardholderName: string }): Promise<IssuedCard> {
    return this.call('issueCard', 'POST', '/issuing/v1/cards', request)
  }
  get(cardId: string): Promise<IssuedCard> {
    return this.call('getCard', 'GET', `/issuing/v1/cards/${encodeURIComponent(cardId)}`)
  }
  freeze(cardId: string, options?: CallOptions): Promise<IssuedCard> {
    return this.call('freezeCard', 'POST', `/issuing/v1/cards/${encodeURIComponent(cardId)}/freeze`, undefined, options)
  }
  unfreeze(cardId: string, options?: CallOptions): Promise<IssuedCard> {
    return this.call('unfreezeCard', 'POST', `/issuing/v1/cards/${encodeURIComponent(cardId)}/unfreeze`, undefined, options)
  }
  close(cardId: string, options?: CallOptions): Promise<IssuedCard> {
    return this.call('closeCard', 'POST', `/issuing/v1/cards/${encodeURIComponent(cardId)}/close`, undefined, options)
  }

  private call(operation: string, method: 'GET' | 'POST', path: string, body?: object, options: CallOptions = {}): Promise<IssuedCard> {
    const { baseUrl, apiKey, timeoutMs, maxAttempts, backoff, logger } = this.options
    const deadline = options.waitMs === undefined ? undefined : Date.now() + options.waitMs
    return withRetries(
      operation,
      async () => {
        // Within a bounded wait each attempt gets only what is left of it.
        const budget = deadline === undefined ? timeoutMs : Math.max(1, Math.min(timeoutMs, deadline - Date.now()))
        let res: Response
        try {
          res = await fetch(`${baseUrl}${path}`, {
            method,
            headers: { authorization: `Bearer ${apiKey}`, ...(body ? { 'content-type': 'application/json' } : {}) },
            ...(body ? { body: JSON.stringify(body) } : {}),
            signal: AbortSignal.timeout(budget),
          })
        } catch (err) {
          throw new CardIssuerError(`${operation}: ${(err as Error).name}`, { transient: true, code: 'network', cause: err })
        }
        const json = (await res.json().catch(() => undefined)) as { data?: unknown; code?: number; message?: string } | undefined
        if (!res.ok) {
          const transient = isTransientStatus(res.status) || json?.code === -1
          throw new CardIssuerError(`${operation}: ${json?.message ?? `HTTP ${res.status}`}`, { transient, operator: isOperatorStatus(res.status), status: res.status, code: json?.code ?? res.status })
        }
        const parsed = cardSchema.safeParse(json?.data)
        if (!parsed.success) throw new CardIssuerError(`${operation}: unexpected response`, { transient: true, code: 'invalid_response', cause: parsed.error })
        return parsed.data
      },
      { maxAttempts, backoff, logger, deadline },
    )
  }
}
