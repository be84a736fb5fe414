import type { Logger } from 'pino'
import type { CardIssuer } from '../adapters/card-issuer/port.ts'
import type { CirclePort } from '../adapters/circle/port.ts'
import { UpstreamError } from '../adapters/upstream-error.ts'
import { DomainError } from '../commands/errors.ts'
import { execute, type CommandMetadata, type Decider } from '../commands/handler.ts'
import { outcomeCommandId } from '../commands/ids.ts'
import type { Failure } from '../events/event.ts'
import type { EventStore } from '../events/event-store.ts'
import { parseStreamName } from '../events/stream-name.ts'
import { logSteps } from '../logger.ts'
import type { Metrics } from '../metrics.ts'
import type { Outcome } from './tasks.ts'

export interface StepContext {
  store: EventStore
  circle: CirclePort
  issuer: CardIssuer
  /** How long an operation may stay processing at Circle before we ask Circle for it again. */
  pollMs: number
  /** A bank account never submitted to Circle fails this long after its request: no client retry can come any more. */
  submissionAbandonMs: number
  logger: Logger
  metrics?: Pick<Metrics, 'countSteps'> | undefined
  /** Who records outcomes: the process manager, or reconciliation when it finds one Circle already settled. */
  actor?: string
}

export type Step = (ctx: StepContext, id: string) => Promise<Outcome>

/** What recording an outcome needs; `metadata` when the outcome belongs to an API request instead (its actor and request id). */
export type Recorder = Pick<StepContext, 'store' | 'metrics' | 'actor'> & {
  logger: Pick<Logger, 'info' | 'error'>
  metadata?: (commandId: string) => CommandMetadata
}

/**
 * Records an outcome as the process manager. The command id derives from the stream and the
 * outcome, so replaying the same step appends nothing new; an outcome that contradicts the
 * recorded state is logged, never applied.
 */
export async function record<C, S>(ctx: Recorder, decider: Decider<C, S>, command: C, stream: string, outcome: string): Promise<void> {
  const commandId = outcomeCommandId(stream, outcome)
  try {
    const metadata = ctx.metadata?.(commandId) ?? { commandId, actor: ctx.actor ?? 'process-manager', occurredAt: new Date().toISOString() }
    const result = await execute(ctx.store, decider, command, metadata)
    logSteps(ctx.logger, result.appended, { operationId: parseStreamName(stream).id, actor: metadata.actor }, ctx.metrics)
  } catch (err) {
    if (err instanceof DomainError && (err.code === 'outcome_conflict' || err.code === 'invalid_transition')) {
      ctx.logger.error({ err, stream, outcome }, 'Circle reported an outcome that contradicts the ledger; not applied')
      return
    }
    throw err
  }
}

/** A refusal from Circle or the issuer becomes the operation's failure, with their code. */
export function failureOf(err: { code: number | string; message: string }, prefix = 'circle'): Failure {
  return { code: `${prefix}_${err.code}`, message: err.message }
}

/**
 * Refusals (Circle or the issuer said no) are handled by the step; transient errors and our own key
 * being refused (401/403) propagate, so the task is retried with backoff until the key works again.
 */
export function isRefusal(err: unknown): err is UpstreamError {
  return err instanceof UpstreamError && err.refusal
}

export const poll = (ctx: StepContext): Outcome => ({ next: 'poll', inMs: ctx.pollMs })
export const done: Outcome = { next: 'done' }
