import { setTimeout as sleep } from 'node:timers/promises'
import { backoffDelay } from '../adapters/retry.ts'
import { WrongExpectedVersion, type EventMetadata, type EventStore, type KeyLock, type NewEvent, type RequestAnswer, type StreamAppend } from '../events/event-store.ts'
import type { StreamType } from '../events/event.ts'
import { cacheOf, type AggregateCache, type AnyEvent } from '../events/fold.ts'
import type { z } from 'zod'
import { ConcurrencyConflict, DomainError } from './errors.ts'
import { deriveId } from './ids.ts'
import { locksOf, type HeldStreams } from './stream-locks.ts'

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
/** Stream refs by key; a decider's keys are those of its state. */
export type StreamRefs<S = Record<string, unknown>> = { [K in keyof S]?: StreamRef | null }

/** The event type of each stream key's stream, e.g. `{ transfer: TransferEvent; source: WalletEvent }`. */
export type StreamEvents<S> = { [K in keyof S]-?: AnyEvent }

/** Events to append, per stream key of the decider; each key takes only its own stream's events. */
export type Decision<E> = { [K in keyof E]?: E[K][] }

/**
 * A command's decider. `S` is the state of every stream it reads, by key (a key whose stream is not
 * read for this command, a null ref, is absent: the state type marks it optional); `E` the event
 * type of each key's stream.
 */
export interface Decider<C, S, E extends StreamEvents<S> = StreamEvents<S>> {
  /** The command's rules of shape; every command is parsed with it before anything is read or decided. */
  schema: z.ZodType<C>
  /** Streams to read before deciding, by key; null = not needed for this command (the key is absent from the state). */
  streams(command: C): StreamRefs<S>
  /** Streams named by what was read (e.g. the wallet of a mint). */
  related?(command: C, state: Partial<S>): StreamRefs<S>
  decide(command: C, state: S): Decision<E>
  /** The operation id the events correlate to. */
  correlationId(command: C): string
}

/** What a command read and decided: the refs of every stream key, the states folded, the events per key. */
export interface Decided<S, E> {
  refs: StreamRefs
  state: S
  decision: Decision<E>
}

/** The command as its schema parses it; one breaking the schema is refused with invalid_command, naming each field. */
export function parseCommand<C>(decider: { schema: z.ZodType<C> }, command: C): C {
  const parsed = decider.schema.safeParse(command)
  if (parsed.success) return parsed.data
  const problems = parsed.error.issues.map((i) => `${i.path.length > 0 ? i.path.join('.') : 'command'}: ${i.message}`)
  throw new DomainError('invalid_command', `the command is not valid: ${problems.join('; ')}`)
}

/** A stream's state as a cache holds it, without reading; undefined when it holds none. */
export type Peek = (ref: StreamRef) => unknown

/**
 * A command's decision, step by step and without I/O: yields the stream refs to read (first the
 * command's own, then those named by what they hold), is sent back the state each one folds to, and
 * returns the decision. execute() runs it against the event store; tests run it against given events.
 *
 * With `peek`, the related streams are guessed from the cached states of the command's own and read
 * with them in the first step (what names them, a transfer's wallets say, does not change). The
 * guess is checked against the states read: a stream guessed wrong is dropped, and the right one is
 * read in a second step as without a guess.
 */
export function* decideSteps<C, S, E extends StreamEvents<S>>(decider: Decider<C, S, E>, given: C, peek?: Peek): Generator<StreamRefs, Decided<S, E>, Record<string, unknown>> {
  const command = parseCommand(decider, given)
  const refs: StreamRefs = { ...decider.streams(command) }
  const guessed = peek ? guessRelated(decider, command, refs, peek) : {}
  const state: Record<string, unknown> = { ...(yield { ...refs, ...guessed }) }
  if (decider.related) {
    const own = Object.fromEntries(Object.keys(refs).flatMap((key) => (key in state ? [[key, state[key]]] : [])))
    const extra: StreamRefs = decider.related(command, own as Partial<S>)
    const missing: StreamRefs = {}
    for (const key of new Set([...Object.keys(extra), ...Object.keys(guessed)])) {
      if (sameStream(extra[key], guessed[key])) continue
      delete state[key]
      const ref = extra[key]
      if (ref) missing[key] = ref
    }
    Object.assign(refs, extra)
    if (Object.keys(missing).length > 0) Object.assign(state, yield missing)
  }
  const decision = decider.decide(command, state as S)
  for (const [key, events] of Object.entries(decision) as [string, AnyEvent[] | undefined][]) {
    if (events && events.length > 0 && !refs[key]) throw new Error(`decider appended to stream key ${key} it did not read`)
  }
  return { refs, state: state as S, decision }
}

/** The related streams named by the cached states of the command's own; none unless every one of those is cached. */
function guessRelated<C, S, E extends StreamEvents<S>>(decider: Decider<C, S, E>, command: C, refs: StreamRefs, peek: Peek): StreamRefs {
  if (!decider.related) return {}
  const cached: Record<string, unknown> = {}
  for (const [key, ref] of Object.entries(refs)) {
    if (!ref) continue
    const state = peek(ref)
    if (state === undefined) return {}
    cached[key] = state
  }
  let related: StreamRefs
  try {
    related = decider.related(command, cached as Partial<S>)
  } catch {
    // A guess only saves a round trip: a cached state `related` cannot read is no reason to fail.
    return {}
  }
  return Object.fromEntries(Object.entries(related).filter(([key, ref]) => ref && !(key in refs)))
}

const sameStream = (a: StreamRef | null | undefined, b: StreamRef | null | undefined): boolean =>
  a && b ? a.type === b.type && a.id === b.id : !a && !b

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
  /** The Idempotency-Key the request holds in flight: appended only while it still does (AppendOptions.lock). */
  lock?: KeyLock
}

/**
 * Reads the streams a command needs, folds them, decides, and appends everything in one atomic
 * multi-stream append with the revisions it read. Commands of this process that append to the
 * same stream take turns for it (StreamLocks): one that waited decides again from what the one
 * before it wrote, without losing a race at the database. A race lost to another process re-reads
 * and re-decides, a bounded number of times, then surfaces ConcurrencyConflict.
 */
export async function execute<C, S, E extends StreamEvents<S>>(
  store: EventStore,
  decider: Decider<C, S, E>,
  command: C,
  metadata: CommandMetadata,
  options: ExecuteOptions = {},
): Promise<ExecuteResult<S>> {
  const maxAttempts = options.maxAttempts ?? 30
  const cache = cacheOf(store)
  let lastConflict = ''
  let held: HeldStreams | undefined
  /** Decisions made again after waiting for the streams; they use up no attempt (at most maxAttempts of them). */
  let redecided = 0
  try {
    for (let attempt = 1; attempt <= maxAttempts; attempt++) {
      const { state, written, newState } = await decideOnce(store, cache, decider, command, metadata)
      if (written.length === 0) return { appended: [], state, position: undefined }
      const appends = written.map((w) => w.append)
      if (!appends.every((a) => held?.streams.has(a.stream))) {
        held?.release()
        held = await locksOf(store).acquire(appends.map((a) => a.stream))
        // A command of this process appended to one of them while this one waited: decide again, from
        // what it wrote (the streams are this command's now). A stream no longer held in the cache is
        // left to the append's expected revision.
        if (written.some(({ revision, append }) => (cache.revisionOf(append.stream) ?? revision) !== revision)) {
          if (redecided++ < maxAttempts) attempt--
          continue
        }
      }
      try {
        const results = await store.appendMulti(appends, { answer: options.answer?.(appends), lock: options.lock })
        // The state computed here is the stream's state at the revision written: the next command reads nothing.
        written.forEach(({ key, revision, append }, i) => {
          const expectedRevision = revision + append.events.length
          if (results[i]?.revision === expectedRevision) cache.remember(append.stream, { state: newState[key], revision: expectedRevision })
        })
        return {
          appended: appends.map((a) => ({ stream: a.stream, events: a.events })),
          state: newState as S,
          position: results.reduce<string | undefined>((last, r) => (last === undefined || (store.distance(last, r.position) ?? 0) > 0 ? r.position : last), undefined),
        }
      } catch (err) {
        if (!(err instanceof WrongExpectedVersion)) throw err
        lastConflict = err.stream
        // Another process wrote the stream. Jittered exponential backoff spreads the contenders; this
        // process's other commands on these streams go first meanwhile.
        held?.release()
        held = undefined
        await sleep(backoffDelay(attempt, { baseMs: 1, maxMs: 50 }))
      }
    }
  } finally {
    held?.release()
  }
  throw new ConcurrencyConflict(lastConflict, maxAttempts)
}

/**
 * One read and decision: the streams loaded (through the cache), the decider run, and each stream's
 * append with the state key it came from, the revision it expects, and the state after it.
 */
async function decideOnce<C, S, E extends StreamEvents<S>>(
  store: EventStore,
  cache: AggregateCache,
  decider: Decider<C, S, E>,
  command: C,
  metadata: CommandMetadata,
) {
  const steps = decideSteps(decider, command, (ref) => cache.peek(ref.type.streamName(ref.id)))
  const revisions: Record<string, number> = {}
  let step = steps.next({})
  while (!step.done) {
    const loaded = await load(store, cache, step.value)
    Object.assign(revisions, loaded.revisions)
    step = steps.next(loaded.state)
  }
  const { refs, state, decision } = step.value
  // Only after decideSteps parsed the command: a malformed one is refused before its correlation id is asked for.
  const eventMetadata: EventMetadata = {
    correlationId: metadata.correlationId ?? decider.correlationId(command),
    causationId: metadata.causationId ?? metadata.commandId,
    actor: metadata.actor,
    occurredAt: metadata.occurredAt,
  }
  if (metadata.requestId !== undefined) eventMetadata.requestId = metadata.requestId
  if (metadata.idempotencyKey !== undefined) eventMetadata.idempotencyKey = metadata.idempotencyKey
  const written: { key: string; revision: number; append: StreamAppend }[] = []
  const newState = { ...(state as Record<string, unknown>) }
  for (const [key, events] of Object.entries(decision) as [string, AnyEvent[] | undefined][]) {
    const ref = refs[key]
    if (!events || events.length === 0 || !ref) continue
    const stream = ref.type.streamName(ref.id)
    const revision = revisions[key]
    if (revision === undefined) throw new Error(`stream key ${key} was read without a revision`)
    const append: StreamAppend = {
      stream,
      expected: revision === -1 ? 'no_stream' : revision,
      events: events.map((e, i) => ({ id: deriveId(metadata.commandId, stream, String(i)), type: e.type, data: e.data, metadata: eventMetadata })),
    }
    written.push({ key, revision, append })
    newState[key] = events.reduce((s, e) => ref.type.evolve(s, e), newState[key])
  }
  return { state, written, newState }
}

/** The streams of one step, read together (one round trip where the store can). */
async function load(store: EventStore, cache: AggregateCache, refs: StreamRefs) {
  const state: Record<string, unknown> = {}
  const revisions: Record<string, number> = {}
  const keyed = Object.entries(refs).flatMap(([key, ref]) => (ref ? [{ key, ref }] : []))
  const folded = await cache.loadMany(store, keyed.map((k) => k.ref))
  keyed.forEach(({ key }, i) => {
    state[key] = folded[i]!.state
    revisions[key] = folded[i]!.revision
  })
  return { state, revisions }
}
