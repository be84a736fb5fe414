import { setTimeout as sleep } from 'node:timers/promises'
import { WrongExpectedVersion, type EventMetadata, type EventStore, type NewEvent, type RequestAnswer, type StreamAppend } from '../events/event-store.ts'
import type { StreamType } from '../events/event.ts'
import { cacheOf, fold, type AnyEvent } from '../events/fold.ts'
import { ConcurrencyConflict } from './errors.ts'
import { deriveId } from './ids.ts'

export type { AnyEvent }

/** Who asked, when, and why; time and ids come in here, never from inside `decide`. */
export interface CommandMetadata {
  /** Unique per command; event ids derive from it, so re-running one command cannot write twice. */
  commandId: string
  actor: string
  /** ISO-8601. */
  occurredAt: string
  /** Defaults to the operation id the command names. */
  correlationId?: string
  /** Defaults to the command id. */
  causationId?: string
  requestId?: string
  idempotencyKey?: string
}

// The state types differ per key; the deciders give them back their precise types.
export type StreamRef = { type: StreamType<any, any>; id: string }
export type StreamRefs = Record<string, StreamRef | null>

/** Events to append, per stream key of the decider. */
export type Decision = Record<string, AnyEvent[] | undefined>

export interface Decider<C, S> {
  /** Streams to read before deciding, by key; null = not needed for this command (initial state). */
  streams(command: C): StreamRefs
  /** Streams named by what was read (e.g. the wallet of a mint). */
  related?(command: C, state: Partial<S>): StreamRefs
  decide(command: C, state: S): Decision
  /** The operation id the events correlate to. */
  correlationId(command: C): string
}

export interface ExecuteResult<S> {
  /** Events appended, per stream (empty when the command was a no-op repeat). */
  appended: { stream: string; events: NewEvent[] }[]
  /** State of every stream read, after the appended events. */
  state: S
  /** Position of the last event written, when anything was written. */
  position: string | undefined
}

export interface ExecuteOptions {
  maxAttempts?: number
  /**
   * The request's answer given the events about to be appended, stored with them by a store that
   * `storesAnswers` (asked again on every attempt, as the events may change).
   */
  answer?: (appends: StreamAppend[]) => RequestAnswer
}

/**
 * Reads the streams a command needs, folds them, decides, and appends everything in one atomic
 * multi-stream append with the revisions it read. A lost race re-reads and re-decides, a bounded
 * number of times, then surfaces ConcurrencyConflict.
 */
export async function execute<C, S>(
  store: EventStore,
  decider: Decider<C, S>,
  command: C,
  metadata: CommandMetadata,
  options: ExecuteOptions = {},
): Promise<ExecuteResult<S>> {
  const maxAttempts = options.maxAttempts ?? 30
  let lastConflict = ''
  for (let attempt = 1; attempt <= maxAttempts; attempt++) {
    const refs: StreamRefs = { ...decider.streams(command) }
    const loaded = await load(store, refs)
    if (decider.related) {
      const extra = decider.related(command, loaded.state as Partial<S>)
      const more = await load(store, extra)
      Object.assign(refs, extra)
      Object.assign(loaded.state, more.state)
      Object.assign(loaded.revisions, more.revisions)
    }
    const state = loaded.state as S
    const decision = decider.decide(command, state)
    const eventMetadata: EventMetadata = {
      correlationId: metadata.correlationId ?? decider.correlationId(command),
      causationId: metadata.causationId ?? metadata.commandId,
      actor: metadata.actor,
      occurredAt: metadata.occurredAt,
    }
    if (metadata.requestId !== undefined) eventMetadata.requestId = metadata.requestId
    if (metadata.idempotencyKey !== undefined) eventMetadata.idempotencyKey = metadata.idempotencyKey
    const appends: StreamAppend[] = []
    const appendedKeys: string[] = []
    const newState = { ...(state as Record<string, unknown>) }
    for (const [key, events] of Object.entries(decision)) {
      const ref = refs[key]
      if (!events || events.length === 0) continue
      if (!ref) throw new Error(`decider appended to stream key ${key} it did not read`)
      const stream = ref.type.streamName(ref.id)
      const revision = loaded.revisions[key]!
      appendedKeys.push(key)
      appends.push({
        stream,
        expected: revision === -1 ? 'no_stream' : revision,
        events: events.map((e, i) => ({
          id: deriveId(metadata.commandId, stream, String(i)),
          type: e.type,
          data: e.data,
          metadata: eventMetadata,
        })),
      })
      newState[key] = events.reduce((s, e) => ref.type.evolve(s, e), newState[key])
    }
    if (appends.length === 0) return { appended: [], state, position: undefined }
    try {
      const results = await store.appendMulti(appends, options.answer ? { answer: options.answer(appends) } : {})
      // The state computed here is the stream's state at the revision written: the next command reads nothing.
      const cache = cacheOf(store)
      appendedKeys.forEach((key, i) => {
        const expectedRevision = loaded.revisions[key]! + appends[i]!.events.length
        if (results[i]?.revision === expectedRevision) cache.remember(appends[i]!.stream, { state: newState[key], revision: expectedRevision })
      })
      return {
        appended: appends.map((a) => ({ stream: a.stream, events: a.events })),
        state: newState as S,
        position: results.reduce((last, r) => ((store.distance(last, r.position) ?? 0) > 0 ? r.position : last), results[0]!.position),
      }
    } catch (err) {
      if (!(err instanceof WrongExpectedVersion)) throw err
      lastConflict = err.stream
      // Jittered exponential backoff spreads contenders for a hot wallet stream.
      await sleep(Math.random() * Math.min(2 ** attempt, 50))
    }
  }
  throw new ConcurrencyConflict(lastConflict, maxAttempts)
}

async function load(store: EventStore, refs: StreamRefs) {
  const state: Record<string, unknown> = {}
  const revisions: Record<string, number> = {}
  await Promise.all(
    Object.entries(refs).map(async ([key, ref]) => {
      if (!ref) return
      const folded = await fold(store, ref.type, ref.id)
      state[key] = folded.state
      revisions[key] = folded.revision
    }),
  )
  return { state, revisions }
}
