/**
 * A call to an outside service (Circle, the card issuer) that failed. `transient` (timeout,
 * network, 429, 5xx, Circle's code -1) may be retried with the same idempotency key; otherwise the
 * service refused the request and the operation fails with its code and message.
 */
export class UpstreamError extends Error {
  override name = 'UpstreamError'
  readonly transient: boolean
  readonly status: number | undefined
  readonly code: number | string
  constructor(message: string, options: { transient: boolean; status?: number; code: number | string; cause?: unknown }) {
    super(message, { cause: options.cause })
    this.transient = options.transient
    this.status = options.status
    this.code = options.code
  }
}
