import { setTimeout as sleep } from 'node:timers/promises'

/**
 * A token bucket: `ratePerSecond` steady, up to `burst` at once; `take()` waits for a token. The
 * bucket holds at least one token, so a rate below one a second (`CIRCLE_RATE_PER_SECOND=0.2`)
 * grants a call every 1/rate seconds instead of never filling up to one.
 */
export class TokenBucket {
  private tokens: number
  private last = performance.now()
  private queue: Promise<void> = Promise.resolve()
  private readonly rate: number
  private readonly burst: number

  constructor(ratePerSecond: number, burst = ratePerSecond) {
    this.rate = ratePerSecond
    this.burst = Math.max(1, burst)
    this.tokens = this.burst
  }

  take(): Promise<void> {
    // Callers queue so tokens are handed out in arrival order.
    const turn = this.queue.then(() => this.acquire())
    this.queue = turn.catch(() => undefined)
    return turn
  }

  private async acquire(): Promise<void> {
    for (;;) {
      const now = performance.now()
      this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.rate)
      this.last = now
      if (this.tokens >= 1) {
        this.tokens -= 1
        return
      }
      await sleep(((1 - this.tokens) / this.rate) * 1000)
    }
  }
}
