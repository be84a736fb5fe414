/**
 * Every reason a command can be refused. `kind` tells the HTTP layer the status: not_found -> 404,
 * rule -> 422, conflict -> 409.
 */
export const domainErrorCodes = {
  not_found: 'not_found',
  /** The command breaks its own schema (a field out of range or of the wrong shape). */
  invalid_command: 'rule',
  wallet_not_found: 'rule',
  wallet_not_active: 'rule',
  insufficient_funds: 'rule',
  bank_account_not_found: 'rule',
  bank_account_not_linked: 'rule',
  bank_account_owner_mismatch: 'rule',
  unsupported_chain: 'rule',
  invalid_address: 'rule',
  same_wallet: 'rule',
  card_not_active: 'rule',
  card_not_frozen: 'rule',
  card_closed: 'rule',
  deposit_address_limit: 'rule',
  card_issuer_refused: 'rule',
  already_exists: 'conflict',
  operation_terminal: 'conflict',
  invalid_transition: 'conflict',
  outcome_conflict: 'conflict',
  concurrency_conflict: 'conflict',
  dead_letter_not_open: 'conflict',
} as const

export type DomainErrorCode = keyof typeof domainErrorCodes
export type DomainErrorKind = (typeof domainErrorCodes)[DomainErrorCode]

export class DomainError extends Error {
  override name = 'DomainError'
  readonly code: DomainErrorCode
  readonly kind: DomainErrorKind
  readonly details: Record<string, string> | undefined
  constructor(code: DomainErrorCode, message: string, details?: Record<string, string>) {
    super(message)
    this.code = code
    this.kind = domainErrorCodes[code]
    this.details = details
  }
}

/** The command kept losing optimistic-concurrency races after its bounded retries. */
export class ConcurrencyConflict extends DomainError {
  override name = 'ConcurrencyConflict'
  constructor(stream: string, attempts: number) {
    super('concurrency_conflict', `stream ${stream} kept changing; gave up after ${attempts} attempts`)
  }
}
