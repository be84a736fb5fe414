import { jsonSchemaTransform, jsonSchemaTransformObject } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { SUPPORTED_CHAINS } from '../commands/chains.ts'
import { schema as depositAddressCommand } from '../commands/request-deposit-address.ts'
import { id as commandId } from '../commands/rules.ts'
import { MAX_PARAM_LENGTH } from './plugins/errors.ts'

/** A decimal string amount: > 0, at most 6 decimals, no exponent, no sign, no spaces. */
const AMOUNT_SHAPE = 'amount must be a decimal string such as "10.50" (digits, at most 6 decimals, no sign or exponent)'
export const amount = z
  .string({ error: AMOUNT_SHAPE })
  .check(
    z.superRefine((s, ctx) => {
      // One problem, one message: the shape first, then the value.
      if (s.length > 40 || !/^(0|[1-9][0-9]*)(\.[0-9]{1,6})?$/.test(s)) ctx.addIssue({ code: 'custom', message: AMOUNT_SHAPE, input: s })
      else if (!/[1-9]/.test(s)) ctx.addIssue({ code: 'custom', message: 'amount must be greater than 0', input: s })
    }),
  )
  .meta({ description: 'Decimal string in USD (= USDC), at most 6 decimals', example: '10.50' })

/**
 * An amount paid out by wire: in whole cents, since a USD wire cannot carry a fraction of one.
 * Decimals past the cents may be written as long as they are zeros: "10.500" is 10.50.
 */
export const wireAmount = amount
  .check(
    z.superRefine((s, ctx) => {
      // Only an amount of the right shape: any other has its one problem said already.
      const pastCents = s.length <= 40 ? /^(?:0|[1-9][0-9]*)\.[0-9]{2}([0-9]{1,4})$/.exec(s)?.[1] : undefined
      if (pastCents !== undefined && /[1-9]/.test(pastCents)) ctx.addIssue({ code: 'custom', message: 'a wire pays whole cents: amount must not have a fraction of a cent', input: s })
    }),
  )
  .meta({ description: 'Decimal string in USD, in whole cents (a wire cannot pay a fraction of one): "40.00", "40.5"; "40.500" is 40.50', example: '40.00' })

export const currency = z.literal('USD').meta({ description: "Circle's code for USDC" })
/** An id in a body: the commands' own id rule. */
export const id = commandId
export const idParams = z.object({ id })
export const chain = depositAddressCommand.shape.chain.meta({ description: `One of ${SUPPORTED_CHAINS.join(', ')}`, example: 'SOL' })

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
      code: z.string().meta({ description: 'Stable, machine-readable reason', example: 'insufficient_funds' }),
      message: z.string().meta({ description: 'What went wrong and what to do, for a person', example: 'wallet 3f0c… has 4.00 available, 10.00 requested' }),
      details: z.unknown().optional().meta({
        description:
          'For validation_failed: one `{field, message}` per problem, the field named by its request path (body.amount, headers.idempotency-key). ' +
          'For business rules: the figures behind the refusal (e.g. available and requested amounts).',
      }),
    }),
    requestId: z.string().meta({ description: 'Echoes x-request-id; quote it when asking for help', example: '5b6c1e0e-4a0b-4d53-9a53-1c1f0e7d2a10' }),
  })
  .meta({ id: 'Error' })

/** An error example shown in the OpenAPI document: [code, message, details?]. */
export type ErrorExample = readonly [code: string, message: string, details?: { field: string; message: string }[]]

/** Examples of each error answer, keyed by the schema instance a route lists; the docs transform adds them. */
const errorExamples = new WeakMap<object, ErrorExample[]>()

/** An error answer with its description and the codes it can carry, shown as examples in /docs. */
export function errorResponse(description: string, examples: ErrorExample[]): z.ZodType {
  const schema = errorBody.describe(description)
  errorExamples.set(schema, examples)
  return schema
}

const ID = '3f0c6d2e-8a4b-4c1d-9e2f-5a6b7c8d9e0f'
const validation: ErrorExample = ['validation_failed', 'the request is not valid: body.amount must be a decimal string such as "10.50"', [{ field: 'body.amount', message: 'amount must be a decimal string such as "10.50"' }]]

/** Error answers every authenticated route can give. */
export const commonErrors = {
  400: errorResponse('Validation failed: `details` names each field and what is wrong with it', [validation]),
  401: errorResponse('Missing or unknown API key', [['unauthorized', 'send Authorization: Bearer <api key>'], ['unauthorized', 'unknown API key']]),
  403: errorResponse('The key’s role may not call this route', [['forbidden', 'role auditor may not call POST /mint']]),
  429: errorResponse('Rate limit exceeded; wait for Retry-After seconds', [['rate_limited', 'rate limit of 600 requests per 60 seconds exceeded for this API key; retry after 12 s']]),
  503: errorResponse('A dependency is unavailable, or the service is at capacity; retry later with the same Idempotency-Key', [
    ['dependency_unavailable', 'the event store is unavailable'],
    ['overloaded', 'the process manager has 200 operations waiting (limit 200); retry shortly'],
  ]),
}

/**
 * Errors of a command route (a POST with a body). `rules` are the business-rule refusals (422) the
 * route can give; `notFound` the 404s when a path id names nothing.
 */
export function commandErrorsFor(rules: ErrorExample[], options: { notFound?: ErrorExample } = {}) {
  return {
    ...commonErrors,
    400: errorResponse('Validation failed: `details` names each field and what is wrong with it', [
      validation,
      ['validation_failed', 'the Idempotency-Key header is required: every creating POST needs one so that a retry cannot create the resource twice', [{ field: 'headers.idempotency-key', message: 'required' }]],
      ['invalid_json', 'the body is not valid JSON: Unexpected end of JSON input'],
    ]),
    ...(options.notFound ? { 404: errorResponse('The resource named in the path does not exist', [options.notFound]) } : {}),
    409: errorResponse('Conflict: the Idempotency-Key is in use by a request still running, or a concurrent change; retry', [
      ['idempotency_key_in_use', 'a request with this Idempotency-Key is still being processed; retry after it finishes'],
      ['concurrency_conflict', 'the resource changed concurrently; retry'],
    ]),
    413: errorResponse('The body is larger than 64 KiB', [['body_too_large', 'the body is larger than 65536 bytes']]),
    415: errorResponse('The body is not sent as application/json', [['unsupported_media_type', 'send the body as JSON with Content-Type: application/json (got text/plain)']]),
    422: errorResponse('A business rule refused the command, or the Idempotency-Key was reused with another body', [
      ...rules,
      ['idempotency_key_reused', 'this Idempotency-Key was used with another body; use a new key for a new request'],
    ]),
  }
}

/** Errors of a command route, with the generic business-rule example. */
export const commandErrors = commandErrorsFor([['insufficient_funds', `wallet ${ID} has 4.00 available, 10.00 requested`]])

/** Errors of a read route. */
export const readErrors = { ...commonErrors, 404: errorResponse('No resource with this id', [['not_found', `mint ${ID} not found`]]) }

/**
 * The success answers of a creating POST: 202 while it runs, and the answer once terminal — 201 for
 * a new resource, 200 for an operation — which `Prefer: wait=N` makes likely.
 */
export function createdResponses(response: z.ZodType, creates: 'resource' | 'operation') {
  const terminal = creates === 'resource' ? { 201: response.describe('Created; already terminal (active or failed) when answered, typically after `Prefer: wait=N`') } : { 200: response.describe('Done; the operation was terminal (completed or failed) when answered, typically after `Prefer: wait=N`') }
  return { ...terminal, 202: response.describe('Accepted; the operation runs asynchronously. Poll the Location header, or send `Prefer: wait=N`') }
}

/** Stable operation ids for generated clients; a route missing here gets one derived from its method and path. */
const OPERATION_IDS: Record<string, string> = {
  'POST /wallets': 'createWallet',
  'GET /wallets/:id': 'getWallet',
  'POST /wallets/address': 'requestDepositAddress',
  'GET /wallets/:walletId/addresses/:addressId': 'getDepositAddress',
  'POST /bank-accounts': 'linkBankAccount',
  'GET /bank-accounts/:id': 'getBankAccount',
  'POST /mint': 'mint',
  'GET /mints/:id': 'getMint',
  'POST /redeem': 'redeem',
  'GET /redeems/:id': 'getRedeem',
  'POST /transfers': 'createTransfer',
  'GET /transfers/:id': 'getTransfer',
  'POST /cards': 'issueCard',
  'GET /cards/:id': 'getCard',
  'POST /cards/:id/freeze': 'freezeCard',
  'POST /cards/:id/unfreeze': 'unfreezeCard',
  'POST /cards/:id/close': 'closeCard',
  'GET /health': 'getHealth',
}

/** `GET /wallets/:walletId/addresses` -> `getWalletsAddressesByWalletId`, for routes without a listed id. */
export function derivedOperationId(method: string, url: string): string {
  const words = url.split('/').filter(Boolean)
  const literal = words.filter((w) => !w.startsWith(':')).map((w) => w.replace(/[^A-Za-z0-9]+(.)?/g, (_m, c: string | undefined) => (c ? c.toUpperCase() : '')))
  const params = words.filter((w) => w.startsWith(':')).map((w) => w.slice(1))
  const cap = (w: string) => w.charAt(0).toUpperCase() + w.slice(1)
  return method.toLowerCase() + literal.map(cap).join('') + (params.length ? 'By' + params.map(cap).join('And') : '')
}

type TransformInput = Parameters<typeof jsonSchemaTransform>[0] & { route?: { method: string | string[]; url: string; config?: { public?: boolean; roles?: string[] } } }

/**
 * The OpenAPI transform: the zod type provider's, plus what a reader of /docs needs per route —
 * its operation id, the roles it takes (or that it is open) and the error examples it declares.
 */
export function docsTransform(document: TransformInput): ReturnType<typeof jsonSchemaTransform> {
  const out = jsonSchemaTransform(document)
  const schema = out.schema as Record<string, unknown> & { hide?: boolean; response?: Record<string, Record<string, unknown>> }
  if (!schema || schema.hide) return out
  const route = document.route
  if (route) {
    const method = Array.isArray(route.method) ? route.method[0] : route.method
    if (method === undefined) throw new Error(`route ${route.url} has no method`)
    schema.operationId ??= OPERATION_IDS[`${method} ${route.url}`] ?? derivedOperationId(method, route.url)
    const access = route.config?.public
      ? 'Open: no API key needed (a key that is sent must be valid).'
      : `Roles: ${[...(route.config?.roles ?? []), 'admin'].map((r) => `\`${r}\``).join(', ')}.`
    schema.description = [schema.description, access].filter(Boolean).join('\n\n')
    if (route.config?.public) schema.security = []
  }
  const responses = (document.schema as { response?: Record<string, unknown> } | undefined)?.response
  const transformed = schema.response
  if (!responses || !transformed) return out
  for (const [status, source] of Object.entries(responses)) {
    const examples = errorExamples.get(source as object)
    const json = transformed[status]
    if (!examples || !json) continue
    const { description, ...rest } = json
    transformed[status] = {
      description,
      content: {
        'application/json': {
          schema: rest,
          examples: Object.fromEntries(
            examples.map(([code, message, details], i) => [
              examples.findIndex(([c]) => c === code) === i ? code : `${code}_${i}`,
              { value: { error: { code, message, ...(details ? { details } : {}) }, requestId: '5b6c1e0e-4a0b-4d53-9a53-1c1f0e7d2a10' } },
            ]),
          ),
        },
      },
    }
  }
  // The router answers 414 before the route for a path parameter it will not take (frameworkErrors).
  const bad = transformed['400']?.content as { 'application/json'?: { schema?: unknown } } | undefined
  if (route?.url.includes(':') && bad?.['application/json']?.schema && !transformed['414']) {
    const example = { error: { code: 'uri_too_long', message: `a path segment is longer than ${MAX_PARAM_LENGTH} characters` }, requestId: '5b6c1e0e-4a0b-4d53-9a53-1c1f0e7d2a10' }
    transformed['414'] = {
      description: `A path parameter is longer than ${MAX_PARAM_LENGTH} characters`,
      content: { 'application/json': { schema: bad['application/json'].schema, examples: { uri_too_long: { value: example } } } },
    }
  }
  return out
}

/**
 * The whole document: the type provider's components, less those nothing refers to (the zod
 * registry emits an input and an output variant of every named schema; most are used one way only).
 */
export function docsTransformObject(document: Parameters<typeof jsonSchemaTransformObject>[0]): ReturnType<typeof jsonSchemaTransformObject> {
  const out = jsonSchemaTransformObject(document) as { paths?: unknown; components?: { schemas?: Record<string, unknown> } }
  const schemas = out.components?.schemas
  if (!schemas) return out as ReturnType<typeof jsonSchemaTransformObject>
  const refsIn = (value: unknown, found: Set<string>) => {
    JSON.stringify(value, (key, v: unknown) => {
      if (key === '$ref' && typeof v === 'string' && v.startsWith('#/components/schemas/')) found.add(v.slice('#/components/schemas/'.length))
      return v
    })
  }
  const used = new Set<string>()
  const { components, ...rest } = out
  refsIn(rest, used)
  for (let grew = true; grew; ) {
    const before = used.size
    for (const name of [...used]) refsIn(schemas[name], used)
    grew = used.size > before
  }
  for (const name of Object.keys(schemas)) if (!used.has(name)) delete schemas[name]
  return out as ReturnType<typeof jsonSchemaTransformObject>
}

export const idempotencyHeaders = z.object({
  'idempotency-key': z
    .string({ error: 'the Idempotency-Key header is required: every creating POST needs one so that a retry cannot create the resource twice' })
    .min(1, 'the Idempotency-Key header must not be empty')
    .max(255, 'the Idempotency-Key header is at most 255 characters')
    .regex(/^[\x21-\x7e]+$/, 'the Idempotency-Key header must be printable ASCII without spaces, such as a UUID')
    .meta({ description: 'Required on every creating POST (1–255 printable ASCII characters without spaces, e.g. a UUID); a replay with the same body returns the original answer', example: 'c0a8012e-7d3f-4f4e-9b8a-2f1d3c4b5a69' }),
  prefer: z
    .string()
    .max(1024)
    .optional()
    .meta({
      description:
        'RFC 7240. `wait=N`: hold the answer up to N seconds (more than 30 is taken as 30) until the operation is terminal; ' +
        '`respond-async`: answer at once. Unknown preferences are ignored. `Preference-Applied` names what was honoured.',
      example: 'wait=10',
    }),
})

/**
 * A whole number in a query string, written in decimal digits. Anything else is refused rather than
 * read as a number: `z.coerce` would take `1e1` as 10, `0x10` as 16 and ` 5` as 5. Leading zeros
 * are read as written (`007` is 7); digits beyond any safe integer are the largest one.
 */
export function wholeNumberParam(name: string, bounds: { min: number; max?: number; example: number }) {
  const { min, max = Number.MAX_SAFE_INTEGER, example } = bounds
  return z.preprocess(
    (v) => {
      if (typeof v !== 'string' || !/^[0-9]+$/.test(v)) return v
      const digits = v.replace(/^0+(?=[0-9])/, '')
      return digits.length > 15 ? Number.MAX_SAFE_INTEGER : Number(digits)
    },
    z
      .number({ error: `${name} must be a whole number written in decimal digits, such as ${example}` })
      .int()
      .min(min, `${name} must be at least ${min}`)
      .max(max, `${name} must be at most ${max}`),
  )
}

/** A page size (`limit`): at least 1; each list caps it at its own largest page. */
export const pageSize = wholeNumberParam('limit', { min: 1, example: 50 })

/** `limit` and `cursor` of every list; a limit above 200 is served as 200. */
export function listQuery<Q extends z.ZodRawShape>(filters: Q) {
  return z
    .strictObject({
      ...filters,
      limit: pageSize.optional().meta({ description: 'Page size: 50 by default, at most 200 (larger values are capped)', example: 50 }),
      cursor: z.string().min(1).max(512).optional().meta({ description: 'Opaque: the nextCursor of the previous page' }),
    })
    .refine(ordered, { message: 'createdBefore must be later than createdAfter: no resource can be in that period', path: ['createdBefore'] })
}

/** A period given by createdAfter and createdBefore (both exclusive) that can hold something. */
function ordered(query: Record<string, unknown>): boolean {
  const { createdAfter, createdBefore } = query
  return typeof createdAfter !== 'string' || typeof createdBefore !== 'string' || Date.parse(createdBefore) > Date.parse(createdAfter)
}

/** A page of a list: newest first; nextCursor is null on the last page. */
export const pageOf = <T extends z.ZodType>(item: T) =>
  z.object({
    items: z.array(item),
    nextCursor: z.string().nullable().meta({ description: 'Pass as cursor to get the next (older) page; null on the last page' }),
  })

// ISO-8601 has a year 0000; PostgreSQL, whose years go from 1 BC to 1 AD, refuses it.
const instant = z.iso
  .datetime({ offset: true })
  .refine((s) => !s.startsWith('0000'), { message: 'there is no year 0000: give an instant from year 0001 on' })
  .meta({ example: '2026-11-26T09:00:00Z' })

/**
 * Filters of the operation lists (mints, redeems, transfers, deposits, cards), with the statuses a
 * resource of the list can have: any other is 400, not an empty page.
 */
export const operationFilters = <S extends Readonly<Record<string, string>>>(statuses: z.ZodEnum<S>) => ({
  walletId: id.optional(),
  status: statuses.optional().meta({ description: 'Only resources in this status' }),
  createdAfter: instant.optional().meta({ description: 'Only resources created after this instant (exclusive)' }),
  createdBefore: instant.optional().meta({ description: 'Only resources created before this instant (exclusive)' }),
})
