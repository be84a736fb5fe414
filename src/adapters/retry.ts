import { setTimeout as sleep } from 'node:timers/promises'
import type { Logger } from 'pino'

export interface RetryOptions {
  maxAttempts: number
  /** Full-jitter exponential backoff: a random delay up to min(maxMs, baseMs * 2^attempt). */
  backoff: { baseMs: number; maxMs: number }
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
      const delay = Math.random() * Math.min(options.backoff.maxMs, options.backoff.baseMs * 2 ** (n - 1))
      if (options.deadline !== undefined && Date.now() + delay >= options.deadline) break
      options.logger?.warn({ operation, attempt: n, delayMs: Math.round(delay), err: last }, 'call failed; retrying with the same key')
      await sleep(delay)
    }
  }
  throw last
}
