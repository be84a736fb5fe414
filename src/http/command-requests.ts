/**
 * What a route that runs a command does with its request: the id derived from the Idempotency-Key,
 * the command's metadata, money fields, `Prefer: wait`, and the 201/202/200 answer.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { DomainError } from '../commands/errors.ts'
import { deriveId } from '../commands/ids.ts'
import { execute, type CommandMetadata, type Decider } from '../commands/handler.ts'
import type { EventStore, Position } from '../events/event-store.ts'
import { exists, type Failure, type OperationStatus } from '../events/event.ts'
import type { Resource } from '../projections/document.ts'
import { formatAmount, InvalidAmount, parseAmount } from '../events/money.ts'
import { logSteps } from '../logger.ts'
import { HttpError } from './errors.ts'

/**
 * Ids of created resources derive from the caller, the Idempotency-Key and the request's content,
 * so a retry after a crash (before the answer was stored) names the same resource instead of
 * creating a second one, while a key reused after it expired, for another request, does not.
 */
export function derivedId(request: FastifyRequest, scope: string): string {
  const held = request.idempotency
  if (!held) throw new Error(`derivedId needs an idempotent route (${request.routeOptions.url})`)
  return deriveId(held.principal, held.key, held.hash, scope)
}

export function commandMetadata(request: FastifyRequest, commandId: string): CommandMetadata {
  const metadata: CommandMetadata = { commandId, actor: request.principal?.name ?? 'anonymous', occurredAt: new Date().toISOString(), requestId: request.id }
  const key = request.headers['idempotency-key']
  if (typeof key === 'string') metadata.idempotencyKey = key
  return metadata
}

/**
 * Runs a creating command and gives the position it wrote; undefined when the resource already
 * existed under its derived id (this request ran before), so the caller waits for the head instead.
 * When the route stores its answer with the events (AnswerInAppend), the append carries it; when
 * the request holds its key in flight, the append is fenced by that key's lock.
 */
export async function create<C, S>(store: EventStore, decider: Decider<C, S>, command: C, request: FastifyRequest, id: string): Promise<Position | undefined> {
  try {
    const metadata = commandMetadata(request, id)
    const held = request.idempotency
    const inAppend = held?.inAppend
    const result = await execute(store, decider, command, metadata, { answer: inAppend?.answer, lock: held?.lock })
    if (inAppend?.answer && result.appended.length > 0) inAppend.stored = true
    logSteps(request.log, result.appended, { operationId: id, actor: metadata.actor }, request.server.metrics)
    return result.position
  } catch (err) {
    if (err instanceof DomainError && err.code === 'already_exists') return undefined
    throw err
  }
}

/** The edge's decimal string to micro-units, with the configured maximum; refusals are 400s naming the field. */
export function money(value: string, max: bigint, field = 'body.amount'): bigint {
  try {
    return parseAmount(value, max)
  } catch (err) {
    if (err instanceof InvalidAmount) throw new HttpError(400, 'validation_failed', err.message, { details: [{ field, message: err.message }] })
    throw err
  }
}

export type { Resource }

/**
 * The state of a read-model row. A row is written from its stream's events, so its state is never
 * the stream's initial one; one that is would be a broken read model, answered as an error.
 */
export function stateOf<S extends { status: string }>(what: string, id: string, r: Resource<S>): Exclude<S, { status: 'none' }> {
  if (!exists(r.state)) throw new Error(`${what} ${id} has a read-model row but no events`)
  return r.state
}

/** The operation fields of an answer; a failure shows once the operation has failed. */
export function operationView(state: { status: OperationStatus; amount: bigint; failure?: Failure; attention?: string }, r: Resource<unknown>) {
  const { status } = state
  return {
    amount: formatAmount(state.amount),
    currency: 'USD' as const,
    status,
    ...(status === 'failed' && state.failure ? { failure: state.failure } : {}),
    ...(state.attention === undefined ? {} : { attention: state.attention }),
    createdAt: r.createdAt,
    updatedAt: r.updatedAt,
  }
}

/** The longest `Prefer: wait` honoured; a longer wait is clamped to it (RFC 7240 preferences are never refused). */
export const MAX_WAIT_SECONDS = 30

export interface Preferences {
  /** Seconds to hold the answer, already clamped to MAX_WAIT_SECONDS. */
  wait?: number
  respondAsync: boolean
}

/**
 * RFC 7240 `Prefer`: comma-separated preferences over one or more headers, names case-insensitive,
 * values optionally quoted, parameters after `;` ignored. Unknown or malformed preferences are
 * ignored rather than refused; of a repeated preference the first counts.
 */
export function parsePrefer(header: string | string[] | undefined): Preferences {
  const preferences: Preferences = { respondAsync: false }
  const values = header === undefined ? [] : Array.isArray(header) ? header : [header]
  for (const item of values.flatMap((v) => v.split(','))) {
    const [token = ''] = item.split(';')
    const [rawName = '', ...rest] = token.split('=')
    const name = rawName.trim().toLowerCase()
    const value = rest.join('=').trim().replace(/^"(.*)"$/, '$1')
    if (name === 'respond-async') preferences.respondAsync = true
    else if (name === 'wait' && preferences.wait === undefined && /^[0-9]{1,9}$/.test(value)) preferences.wait = Math.min(Number(value), MAX_WAIT_SECONDS)
  }
  return preferences
}

/** `Prefer: wait=N`: re-reads until `done` or N seconds (at most MAX_WAIT_SECONDS) pass, then answers with what it has. */
export async function waitIfAsked<S>(request: FastifyRequest, current: Resource<S>, reread: () => Promise<Resource<S> | undefined>, done: (s: S) => boolean): Promise<Resource<S>> {
  const deadline = Date.now() + (parsePrefer(request.headers.prefer).wait ?? 0) * 1000
  let resource = current
  let delay = 50
  while (!done(resource.state) && Date.now() < deadline) {
    await sleep(Math.min(delay, deadline - Date.now()))
    delay = Math.min(delay * 2, 500)
    resource = (await reread()) ?? resource
  }
  return resource
}

/**
 * The answer to a creating POST. Still running: 202 with a Location to poll. Already terminal: 201
 * for a new resource (wallet, address, bank account, card), 200 for an operation (mint, redeem,
 * transfer) whose outcome is the answer. `Preference-Applied` names the preferences honoured.
 */
export function answerCreated(request: FastifyRequest, reply: FastifyReply, answer: { terminal: boolean; creates: 'resource' | 'operation'; location: string }) {
  const preferences = parsePrefer(request.headers.prefer)
  const applied: string[] = []
  if (preferences.wait !== undefined) applied.push(`wait=${preferences.wait}`)
  if (preferences.respondAsync && !answer.terminal) applied.push('respond-async')
  if (applied.length > 0) void reply.header('preference-applied', applied.join(', '))
  return reply.code(createdStatus(answer.terminal, answer.creates)).header('location', answer.location)
}

/** 202 while running; once terminal, 201 for a new resource, 200 for an operation. */
export function createdStatus(terminal: boolean, creates: 'resource' | 'operation'): number {
  return !terminal ? 202 : creates === 'resource' ? 201 : 200
}
