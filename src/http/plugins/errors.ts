import fp from 'fastify-plugin'
import { hasZodFastifySchemaValidationErrors, isResponseSerializationError } from 'fastify-type-provider-zod'
import { DomainError } from '../../commands/errors.ts'
import { EventStoreUnavailable, WrongExpectedVersion } from '../../events/event-store.ts'
import { InvalidCursor } from '../../projections/pagination.ts'
import { ReadModelsBehind } from '../../subscriptions/read-your-writes.ts'
import { HttpError } from '../errors.ts'

export interface ErrorBody {
  error: { code: string; message: string; details?: unknown }
  requestId: string
}

interface Mapped {
  status: number
  code: string
  message: string
  details?: unknown
  headers?: Record<string, string>
}

/** A domain error's kind gives the status: not_found 404, conflict 409, a business rule 422. */
const domainStatus = { not_found: 404, conflict: 409, rule: 422 } as const

function map(err: unknown): Mapped {
  if (err instanceof DomainError) {
    return { status: domainStatus[err.kind], code: err.code, message: err.message, ...(err.details === undefined ? {} : { details: err.details }) }
  }
  if (err instanceof HttpError) return { status: err.statusCode, code: err.code, message: err.message, details: err.details, headers: err.headers }
  if (hasZodFastifySchemaValidationErrors(err)) {
    return {
      status: 400,
      code: 'validation_failed',
      message: 'the request is not valid',
      details: err.validation.map((v) => ({ field: fieldOf(err.validationContext, v.instancePath), message: v.message })),
    }
  }
  if (err instanceof WrongExpectedVersion) return { status: 409, code: 'concurrency_conflict', message: 'the resource changed concurrently; retry' }
  if (err instanceof InvalidCursor) return { status: 400, code: 'invalid_cursor', message: err.message, details: [{ field: 'query.cursor', message: err.message }] }
  if (err instanceof ReadModelsBehind) return { status: 503, code: 'read_models_behind', message: 'the change was recorded but the read models are behind; retry with the same Idempotency-Key', headers: { 'retry-after': '1' } }
  if (err instanceof EventStoreUnavailable) return { status: 503, code: 'dependency_unavailable', message: 'the event store is unavailable' }
  const fastifyErr = err as { statusCode?: number; code?: string; message?: string }
  if (fastifyErr.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || (err instanceof SyntaxError && fastifyErr.statusCode === 400)) {
    return { status: 400, code: 'invalid_json', message: 'the body is not valid JSON' }
  }
  if (fastifyErr.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') return { status: 415, code: 'unsupported_media_type', message: 'send application/json' }
  if (fastifyErr.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return { status: 413, code: 'body_too_large', message: 'the body is too large' }
  if (fastifyErr.code === 'FST_ERR_CTP_EMPTY_JSON_BODY') return { status: 400, code: 'validation_failed', message: 'the body is empty' }
  if (fastifyErr.statusCode === 429) return { status: 429, code: 'rate_limited', message: fastifyErr.message ?? 'too many requests' }
  if (typeof fastifyErr.statusCode === 'number' && fastifyErr.statusCode >= 400 && fastifyErr.statusCode < 500) {
    return { status: fastifyErr.statusCode, code: 'bad_request', message: fastifyErr.message ?? 'bad request' }
  }
  return { status: 500, code: 'internal_error', message: 'an internal error occurred' }
}

function fieldOf(context: string | undefined, instancePath: string): string {
  const path = instancePath.replace(/^\//, '').replaceAll('/', '.')
  return [context, path].filter(Boolean).join('.')
}

/** The one place errors become `{error:{code,message,details?},requestId}`; never a stack trace. */
export const errorsPlugin = fp(async (app) => {
  app.setErrorHandler((err, request, reply) => {
    const mapped = map(err)
    if (mapped.status >= 500) request.log.error({ err }, 'request failed')
    else if (isResponseSerializationError(err)) request.log.error({ err }, 'response did not match its schema')
    else request.log.info({ code: mapped.code }, 'request rejected')
    const body: ErrorBody = { error: { code: mapped.code, message: mapped.message }, requestId: request.id }
    if (mapped.details !== undefined) body.error.details = mapped.details
    void reply.code(mapped.status).headers(mapped.headers ?? {}).send(body)
  })
  app.setNotFoundHandler((request, reply) => {
    void reply.code(404).send({ error: { code: 'not_found', message: `no route ${request.method} ${request.url.split('?')[0]}` }, requestId: request.id })
  })
})
