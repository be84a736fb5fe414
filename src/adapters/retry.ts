import { setTimeout as sleep } from 'node:timers/promises'
import type { Logger } from 'pino'

export interface Backoff {
  baseMs: number
  maxMs: number
}

/**
 * Exponential backoff with full jitter, the one retry-delay rule of the service: a random delay in
 * [0, min(maxMs, baseMs * 2^attempt)), `attempt` counting failures from 0.
 */
export function backoffDelay(attempt: number, backoff: Backoff): number {
  return Math.random() * Math.min(backoff.maxMs, backoff.baseMs * 2 ** attempt)
}

export interface RetryOptions {
  maxAttempts: number
  /** Full-jitter exponential backoff (see `backoffDelay`). */
  backoff: Backoff
  /** Waited on before every attempt (a client-side rate limiter). */
  beforeAttempt?: () => Promise<void>
  logger?: Logger | undefined
  /** Epoch ms after which no new attempt starts: the last error is thrown instead of waiting past it. */
  deadline?: number | undefined
}

/**
 * Runs `attempt` until it succeeds, throws an error that is not transient, or runs out of
 * attempts. Callers make each attempt send the same idempotency key.
 */
export async function withRetries<T>(operation: string, attempt: () => Promise<T>, options: RetryOptions): Promise<T> {
  let last: unknown
  for (let n = 1; n <= options.maxAttempts; n++) {
    await options.beforeAttempt?.()
    try {
      return await attempt()
    } catch (err) {
      last = err
      if (!(err as { transient?: boolean }).transient) throw err
    }
    if (n < options.maxAttempts) {
      const delay = backoffDelay(n - 1, options.backoff)
      if (options.deadline !== undefined && Date.now() + delay >= options.deadline) break
      options.logger?.warn({ operation, attempt: n, delayMs: Math.round(delay), err: last }, 'call failed; retrying with the same key')
      await sleep(delay)
    }
  }
  throw last
}
