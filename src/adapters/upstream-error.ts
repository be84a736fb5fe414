/**
 * A call to an outside service (Circle, the card issuer) that failed, classified by what it means:
 * - `transient` (timeout, network, 408, 429, 5xx, Circle's code -1): retried with the same
 *   idempotency key;
 * - `operator` (401, 403: a rotated or revoked key): our configuration is wrong, not the request.
 *   Operations wait and resume once the key works; health turns degraded;
 * - otherwise the service refused the request and the operation fails with its code and message.
 */
export class UpstreamError extends Error {
  override name = 'UpstreamError'
  readonly transient: boolean
  readonly operator: boolean
  readonly status: number | undefined
  readonly code: number | string
  constructor(message: string, options: { transient: boolean; operator?: boolean; status?: number; code: number | string; cause?: unknown }) {
    super(message, { cause: options.cause })
    this.transient = options.transient
    this.operator = options.operator ?? false
    this.status = options.status
    this.code = options.code
  }

  /** The service refused this request: the operation fails. Neither a passing fault nor our own key's problem. */
  get refusal(): boolean {
    return !this.transient && !this.operator
  }
}

/** Statuses that say our credentials are at fault (rotated, revoked, wrong environment), not the request. */
export const isOperatorStatus = (status: number) => status === 401 || status === 403

/** Statuses worth retrying with the same idempotency key. */
export const isTransientStatus = (status: number) => status === 408 || status === 429 || status >= 500
