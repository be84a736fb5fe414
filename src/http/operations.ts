import { setTimeout as sleep } from 'node:timers/promises'
import type { FastifyRequest } from 'fastify'
import { DomainError } from '../commands/errors.ts'
import { deriveId } from '../commands/ids.ts'
import { execute, type CommandMetadata, type Decider } from '../commands/handler.ts'
import type { EventStore, Position } from '../events/event-store.ts'
import type { Failure, OperationStatus } from '../events/event.ts'
import type { Resource } from '../projections/document.ts'
import { formatAmount, InvalidAmount, parseAmount } from '../events/money.ts'
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
 */
export async function create<C, S>(store: EventStore, decider: Decider<C, S>, command: C, request: FastifyRequest, id: string): Promise<Position | undefined> {
  try {
    return (await execute(store, decider, command, commandMetadata(request, id))).position
  } catch (err) {
    if (err instanceof DomainError && err.code === 'already_exists') return undefined
    throw err
  }
}

/** The edge's decimal string to micro-units, with the configured maximum; refusals are 400s naming the field. */
export function money(value: string, max: bigint, field = 'amount'): bigint {
  try {
    return parseAmount(value, max)
  } catch (err) {
    if (err instanceof InvalidAmount) throw new HttpError(400, 'validation_failed', err.message, { details: [{ field, message: err.message }] })
    throw err
  }
}

export type { Resource }

/** The operation fields of an answer; a failure shows once the operation has failed. */
export function operationView(r: Resource<{ status: OperationStatus | 'none'; amount?: bigint; failure?: Failure; attention?: string }>) {
  const status = r.state.status === 'none' ? 'pending' : r.state.status
  return {
    amount: formatAmount(r.state.amount!),
    currency: 'USD' as const,
    status,
    ...(status === 'failed' && r.state.failure ? { failure: r.state.failure } : {}),
    ...(r.state.attention === undefined ? {} : { attention: r.state.attention }),
    createdAt: r.createdAt,
    updatedAt: r.updatedAt,
  }
}

/** `Prefer: wait=N`: re-reads until `done` or N seconds pass, then answers with what it has. */
export async function waitIfAsked<S>(request: FastifyRequest, current: Resource<S>, reread: () => Promise<Resource<S> | undefined>, done: (s: S) => boolean): Promise<Resource<S>> {
  const prefer = request.headers.prefer
  const seconds = typeof prefer === 'string' ? Number(/wait=(\d+)/.exec(prefer)?.[1] ?? 0) : 0
  const deadline = Date.now() + Math.min(seconds, 30) * 1000
  let resource = current
  let delay = 50
  while (!done(resource.state) && Date.now() < deadline) {
    await sleep(Math.min(delay, deadline - Date.now()))
    delay = Math.min(delay * 2, 500)
    resource = (await reread()) ?? resource
  }
  return resource
}
