import { z } from 'zod'
import { SUPPORTED_CHAINS } from '../commands/chains.ts'

/** A decimal string amount: > 0, at most 6 decimals, no exponent, no sign, no spaces. */
export const amount = z
  .string()
  .max(40)
  .regex(/^(0|[1-9][0-9]*)(\.[0-9]{1,6})?$/, 'amount must be a decimal string with at most 6 decimals, such as "10.50"')
  .refine((s) => /[1-9]/.test(s), 'amount must be greater than 0')
  .meta({ description: 'Decimal string in USD (= USDC), at most 6 decimals', example: '10.50' })

export const currency = z.literal('USD').meta({ description: "Circle's code for USDC" })
export const id = z.uuid()
export const idParams = z.object({ id: z.uuid() })
export const chain = z.string().min(1).max(16).meta({ description: `One of ${SUPPORTED_CHAINS.join(', ')}`, example: 'SOL' })

export const failure = z.object({ code: z.string(), message: z.string() }).meta({ description: 'Why the operation failed' })
export const operationStatus = z.enum(['pending', 'processing', 'completed', 'failed'])

/**
 * Set while the operation's processing is set aside as a dead letter (retries exhausted) and a
 * person must act, e.g. `compensation_failed`; cleared when an admin replays or discards it.
 */
export const attention = z
  .string()
  .optional()
  .meta({ description: 'Present while retries are exhausted and an admin must act (GET /admin/dead-letters), e.g. compensation_failed', example: 'compensation_failed' })

/** Fields every asynchronous money operation answers with (mint, redeem, transfer). */
export const operationFields = {
  amount: z.string().meta({ example: '10.50', description: 'Decimal string, USD (= USDC)' }),
  currency,
  status: operationStatus,
  failure: failure.optional(),
  attention,
  createdAt: z.string(),
  updatedAt: z.string(),
}

export const errorBody = z
  .object({
    error: z.object({
      code: z.string().meta({ example: 'insufficient_funds' }),
      message: z.string(),
      details: z.unknown().optional(),
    }),
    requestId: z.string(),
  })
  .meta({ id: 'Error' })

export const idempotencyHeaders = z.object({
  'idempotency-key': z
    .string()
    .min(1)
    .max(255)
    .regex(/^[\x21-\x7e]+$/, 'printable ASCII without spaces')
    .meta({ description: 'Required on every creating POST; a replay with the same body returns the original response' }),
  prefer: z
    .string()
    .regex(/^wait=([0-9]|[12][0-9]|30)$/, 'wait=N with N from 0 to 30')
    .optional()
    .meta({ description: 'wait=N: hold the answer up to N seconds until the operation is terminal' }),
})

/** Error answers every authenticated route can give, documented once. */
export const commonErrors = {
  400: errorBody.describe('Validation failed'),
  401: errorBody.describe('Missing or unknown API key'),
  403: errorBody.describe('The key’s role may not call this route'),
  429: errorBody.describe('Rate limit exceeded; see Retry-After'),
  503: errorBody.describe('A dependency is unavailable'),
}

/** Errors of a command route (a POST with a body). */
export const commandErrors = {
  ...commonErrors,
  409: errorBody.describe('Conflict: idempotency key in use, concurrent change, or an outcome contradicting the state'),
  413: errorBody.describe('The body is too large'),
  415: errorBody.describe('Send application/json'),
  422: errorBody.describe('A business rule refused the command (e.g. insufficient_funds), or the Idempotency-Key was reused with another body'),
}

/** Errors of a read route. */
export const readErrors = { ...commonErrors, 404: errorBody.describe('Not found') }

/** `limit` and `cursor` of every list; a limit above 200 is served as 200. */
export function listQuery<Q extends z.ZodRawShape>(filters: Q) {
  return z.strictObject({
    ...filters,
    limit: z.coerce.number().int().min(1).optional().meta({ description: 'Page size: 50 by default, at most 200 (larger values are capped)', example: 50 }),
    cursor: z.string().min(1).max(512).optional().meta({ description: 'Opaque: the nextCursor of the previous page' }),
  })
}

/** A page of a list: newest first; nextCursor is null on the last page. */
export const pageOf = <T extends z.ZodType>(item: T) =>
  z.object({
    items: z.array(item),
    nextCursor: z.string().nullable().meta({ description: 'Pass as cursor to get the next (older) page; null on the last page' }),
  })

const instant = z.iso.datetime({ offset: true }).meta({ example: '2026-11-26T09:00:00Z' })

/** Filters of the operation lists (mints, redeems, transfers, deposits, cards). */
export const operationFilters = {
  walletId: z.uuid().optional(),
  status: z.string().min(1).max(32).optional().meta({ description: 'Only resources in this status' }),
  createdAfter: instant.optional().meta({ description: 'Only resources created after this instant (exclusive)' }),
  createdBefore: instant.optional().meta({ description: 'Only resources created before this instant (exclusive)' }),
}
