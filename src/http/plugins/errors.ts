import { randomUUID } from 'node:crypto'
import { STATUS_CODES } from 'node:http'
import type { Duplex } from 'node:stream'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import FindMyWay from 'find-my-way'
import { hasZodFastifySchemaValidationErrors, isResponseSerializationError } from 'fastify-type-provider-zod'
import { DomainError } from '../../commands/errors.ts'
import { EventStoreUnavailable, IdempotencyKeyTaken, WrongExpectedVersion } from '../../events/event-store.ts'
import { CircleUnavailable } from '../../process-manager/submit-wire-account.ts'
import { InvalidCursor } from '../../projections/pagination.ts'
import { BacklogFull } from '../../process-manager/admission.ts'
import { ReadModelsBehind } from '../../subscriptions/read-your-writes.ts'
import { HttpError } from '../errors.ts'
import { problemsOf } from '../validation.ts'

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

function map(err: unknown, contentType: string | undefined, bodyLimit: number): Mapped {
  if (err instanceof DomainError) {
    return { status: domainStatus[err.kind], code: err.code, message: err.message, ...(err.details === undefined ? {} : { details: err.details }) }
  }
  if (err instanceof HttpError) return { status: err.statusCode, code: err.code, message: err.message, details: err.details, headers: err.headers }
  if (hasZodFastifySchemaValidationErrors(err)) {
    // Fastify calls the query `querystring`; fields are named as the rest of the API names them (`query.cursor`).
    const context = err.validationContext === 'querystring' ? 'query' : (err.validationContext ?? 'body')
    const details = err.validation.flatMap((v) => problemsOf(context, v as unknown as Parameters<typeof problemsOf>[1]))
    return { status: 400, code: 'validation_failed', message: `the request is not valid: ${details.map((d) => d.message).join('; ')}`, details }
  }
  if (err instanceof IdempotencyKeyTaken) {
    return { status: 409, code: 'idempotency_key_in_use', message: 'another attempt under this Idempotency-Key holds it now, and nothing of this one was written; retry for its answer' }
  }
  if (err instanceof WrongExpectedVersion) return { status: 409, code: 'concurrency_conflict', message: 'the resource changed concurrently; retry' }
  if (err instanceof InvalidCursor) return { status: 400, code: 'invalid_cursor', message: err.message, details: [{ field: 'query.cursor', message: err.message }] }
  if (err instanceof ReadModelsBehind) return { status: 503, code: 'read_models_behind', message: 'the change was recorded but the read models are behind; retry with the same Idempotency-Key', headers: { 'retry-after': '1' } }
  if (err instanceof BacklogFull) return { status: 503, code: 'overloaded', message: err.message, headers: { 'retry-after': '1' } }
  // Every 503 says when to come back: the dependency's own retries were spent within the request.
  if (err instanceof CircleUnavailable) return { status: 503, code: 'circle_unavailable', message: err.message, headers: { 'retry-after': '5' } }
  if (err instanceof EventStoreUnavailable) return { status: 503, code: 'dependency_unavailable', message: 'the event store is unavailable', headers: { 'retry-after': '5' } }
  const fastifyErr = err as { statusCode?: number; code?: string; message?: string }
  if (fastifyErr.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || (err instanceof SyntaxError && fastifyErr.statusCode === 400)) {
    return { status: 400, code: 'invalid_json', message: 'the body is not valid JSON: check its quotes, commas and brackets' }
  }
  if (fastifyErr.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
    return { status: 415, code: 'unsupported_media_type', message: `send the body as JSON with Content-Type: application/json (got ${contentType ?? 'no Content-Type'})` }
  }
  if (fastifyErr.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return { status: 413, code: 'body_too_large', message: `the body is larger than ${bodyLimit} bytes` }
  if (fastifyErr.statusCode === 429) return { status: 429, code: 'rate_limited', message: fastifyErr.message ?? 'too many requests' }
  if (typeof fastifyErr.statusCode === 'number' && fastifyErr.statusCode >= 400 && fastifyErr.statusCode < 500) {
    return { status: fastifyErr.statusCode, code: 'bad_request', message: fastifyErr.message ?? 'bad request' }
  }
  return { status: 500, code: 'internal_error', message: 'an internal error occurred' }
}

/** The one place errors become `{error:{code,message,details?},requestId}`; never a stack trace. */
export const errorsPlugin = fp(async (app) => {
  app.setErrorHandler((err, request, reply) => {
    const contentType = request.headers['content-type']?.split(';')[0]
    const mapped = map(err, contentType, request.routeOptions.bodyLimit ?? app.initialConfig.bodyLimit ?? 1048576)
    // The access-log line reports the code; only what a person must look into gets its own line.
    request.errorCode = mapped.code
    if (mapped.status >= 500) request.log.error({ err }, 'request failed')
    else if (isResponseSerializationError(err)) request.log.error({ err }, 'response did not match its schema')
    else request.log.debug({ code: mapped.code, err }, 'request rejected')
    const body: ErrorBody = { error: { code: mapped.code, message: mapped.message }, requestId: request.id }
    if (mapped.details !== undefined) body.error.details = mapped.details
    void reply.code(mapped.status).headers(mapped.headers ?? {}).send(body)
  })
  // The paths the app serves, by method: a known path asked with another method is 405 with Allow, not 404.
  const served = FindMyWay({ maxParamLength: MAX_PARAM_LENGTH })
  app.addHook('onRoute', (route) => {
    // A prefix's own route (`/docs` of a plugin under the prefix `/docs`) is served with and without
    // the trailing slash, but onRoute sees only the first.
    const urls = route.routePath === '' && route.prefix ? [route.url, `${route.url}/`] : [route.url]
    for (const method of [route.method].flat().filter(routed)) {
      for (const url of urls) if (!served.hasRoute(method, url)) served.on(method, url, () => undefined)
    }
  })
  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?')[0] ?? '/'
    const allow = ROUTED_METHODS.filter((method) => served.find(method, path) !== null)
    // A route may itself answer 404 (a file missing under /docs/static/*): that is no wrong method.
    if (allow.length > 0 && !allow.some((method) => method === request.method)) {
      const body: ErrorBody = { error: { code: 'method_not_allowed', message: `${path} does not take ${request.method}; it takes ${allow.join(', ')}` }, requestId: request.id }
      return void reply.code(405).header('allow', allow.join(', ')).send(body)
    }
    void reply.code(404).send({ error: { code: 'not_found', message: `no route ${request.method} ${path}` }, requestId: request.id })
  })
})

const ROUTED_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'] as const
const routed = (method: string): method is (typeof ROUTED_METHODS)[number] => (ROUTED_METHODS as readonly string[]).includes(method)

/** The longest path parameter the router takes; a longer one is 414 before any route runs. */
export const MAX_PARAM_LENGTH = 256

/**
 * Fastify's `frameworkErrors`: what the router refuses before any route or hook runs (a path it
 * cannot decode, a path parameter over MAX_PARAM_LENGTH) in the same envelope as every other error.
 */
export function frameworkErrors(err: { code?: string }, request: FastifyRequest, reply: FastifyReply): void {
  const { status, code, message } =
    err.code === 'FST_ERR_MAX_PARAM_LENGTH'
      ? { status: 414, code: 'uri_too_long', message: `a path segment is longer than ${MAX_PARAM_LENGTH} characters` }
      : err.code === 'FST_ERR_BAD_URL'
        ? { status: 400, code: 'invalid_url', message: 'the path is not a valid URL: a % must be followed by two hexadecimal digits of UTF-8' }
        : { status: 500, code: 'internal_error', message: 'an internal error occurred' }
  if (status >= 500) request.log.error({ err }, 'request failed in the router')
  request.errorCode = code
  const body: ErrorBody = { error: { code, message }, requestId: request.id }
  void reply.code(status).header('x-request-id', request.id).send(body)
}

const CLIENT_ERRORS: Record<string, { status: number; code: string; message: string }> = {
  ERR_HTTP_REQUEST_TIMEOUT: { status: 408, code: 'request_timeout', message: 'the request did not arrive in time' },
  HPE_HEADER_OVERFLOW: { status: 431, code: 'headers_too_large', message: 'the request headers are larger than the server accepts (16 KB)' },
}

/**
 * Fastify's `clientErrorHandler`: a request Node's HTTP parser refuses (headers too large, too slow,
 * not HTTP) never reaches Fastify, so it is answered on the socket, in the same envelope, with a
 * fresh request id that the answer carries.
 */
export function clientErrorHandler(this: FastifyInstance, err: NodeJS.ErrnoException, socket: Duplex): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return
  const { status, code, message } = CLIENT_ERRORS[err.code ?? ''] ?? { status: 400, code: 'bad_request', message: 'the request is not valid HTTP' }
  const requestId = randomUUID()
  this.log.debug({ err, code, requestId }, 'request refused by the HTTP parser')
  const body = JSON.stringify({ error: { code, message }, requestId } satisfies ErrorBody)
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nx-request-id: ${requestId}\r\nConnection: close\r\n\r\n${body}`,
    )
  }
  socket.destroy(err)
}
