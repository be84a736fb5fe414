import { UpstreamError } from '../upstream-error.ts'

/**
 * Virtual card issuing. Circle's SDK has no card-issuing API, so cards go through this port; the
 * bundled implementation talks to the simulator's issuing routes. A production issuer (Marqeta,
 * Lithic, ...) implements the same five calls. The full card number never crosses this port.
 */
export interface IssuedCard {
  id: string
  status: 'pending' | 'active' | 'frozen' | 'closed' | 'failed'
  last4: string
  expMonth: number
  expYear: number
  network: string
}

/** `waitMs` bounds the whole call, retries included: past it the call fails as transient (timeout). */
export interface CallOptions {
  waitMs?: number
}

export interface CardIssuer {
  issue(request: { idempotencyKey: string; walletId: string; cardholderName: string }): Promise<IssuedCard>
  get(cardId: string): Promise<IssuedCard>
  freeze(cardId: string, options?: CallOptions): Promise<IssuedCard>
  unfreeze(cardId: string, options?: CallOptions): Promise<IssuedCard>
  close(cardId: string, options?: CallOptions): Promise<IssuedCard>
}

/** A failed issuer call, classified like Circle's. */
export class CardIssuerError extends UpstreamError {
  override name = 'CardIssuerError'
}
