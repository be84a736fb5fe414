/**
 * The event store port. Adapters: postgres (default), memory (unit tests), kurrentdb.
 *
 * Positions are opaque strings owned by the adapter: totally ordered, and a reader resuming
 * after any position it was given neither repeats nor skips an event. Revisions are 0-based and
 * contiguous per stream.
 */

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue }
export type JsonObject = { [key: string]: JsonValue }

/** Who did it and why; set by the command handler from the command's metadata. */
export interface EventMetadata {
  /** The operation id the event belongs to. */
  correlationId: string
  /** Id of the command or event that caused this event. */
  causationId: string
  /** API key name, `circle-webhook`, `process-manager` or `reconciliation`. */
  actor: string
  requestId?: string
  idempotencyKey?: string
  /** ISO-8601 time the command was accepted. */
  occurredAt: string
}

export interface NewEvent<Type extends string = string, Data extends JsonObject = JsonObject> {
  /** Caller-chosen UUID; re-appending the same ids to the same stream is an idempotent no-op. */
  id: string
  type: Type
  data: Data
  metadata: EventMetadata
}

export interface RecordedEvent<Type extends string = string, Data extends JsonObject = JsonObject>
  extends NewEvent<Type, Data> {
  stream: string
  revision: number
  position: Position
  /** ISO-8601 time the store committed the event. */
  recordedAt: string
}

export type Position = string

export type ExpectedRevision = 'any' | 'no_stream' | 'stream_exists' | number

export interface AppendResult {
  stream: string
  /** Revision of the last event of the stream after the append. */
  revision: number
  /** Position of the last event written (or of the original write, for an idempotent replay). */
  position: Position
}

export interface StreamAppend {
  stream: string
  events: NewEvent[]
  expected: ExpectedRevision
}

/**
 * The answer to the HTTP request an append comes from, for a store that keeps it in the append's
 * own transaction (`EventStore.storesAnswers`): the Idempotency-Key row, finished.
 */
export interface RequestAnswer {
  principal: string
  key: string
  requestHash: string
  status: number
  /** The answer's body as JSON text. */
  body: string
  headers: Record<string, string>
  ttlHours: number
}

/**
 * The Idempotency-Key a request holds in flight (its row, with this attempt's lock token), for a
 * store that keeps answers: see AppendOptions.lock.
 */
export interface KeyLock {
  principal: string
  key: string
  requestHash: string
  token: string
  /** How long the lock lasts from the append, as the request's own renewals set it. */
  lockSeconds: number
  ttlHours: number
}

export interface AppendOptions {
  /**
   * Stored with the events, all or nothing, by a store that `storesAnswers`; others ignore it.
   * If the key is held already (an answer stored, a request in flight, another request under the
   * key), nothing is written and the append fails with IdempotencyKeyTaken.
   */
  answer?: RequestAnswer
  /**
   * The events are written only while the request still holds its key, checked in the append's
   * transaction by a store that `storesAnswers` (others ignore it): the key's row is in flight under
   * this token (its lock is renewed). If another attempt holds the key, it has an answer, or its row
   * is gone, nothing is written and the append fails with IdempotencyKeyTaken. Ignored beside an
   * `answer`, whose storing claims the key itself.
   */
  lock?: KeyLock
}

export interface EventFilter {
  /** Keep events whose stream starts with one of these prefixes, e.g. `mint-`. */
  streamPrefixes?: readonly string[]
  /** Keep events of these types. */
  types?: readonly string[]
}

export interface ReadAllOptions {
  /** Exclusive; omitted = from the beginning. */
  after?: Position | undefined
  maxCount?: number
  filter?: EventFilter | undefined
  /**
   * Stores that filter over a bounded scan (PostgreSQL, KurrentDB): at most this many positions
   * scanned by this read, instead of the store's own bound (checked by `checkScanWindow`). A
   * rebuild widens it so that a page of a projection that handles a fifth of the log is full; a
   * reader that waits for new events keeps the store's, so a read of rare types stays short.
   */
  scanWindow?: number
}

/** Positions a filtered read scans at most, unless the store or the read says otherwise. */
export const DEFAULT_SCAN_WINDOW = 10_000

/** Refuses a `scanWindow` that is not a positive integer: a window of 0 would never move a reader on. */
export function checkScanWindow(options: ReadAllOptions): void {
  const window = options.scanWindow
  if (window !== undefined && (!Number.isSafeInteger(window) || window < 1)) throw new RangeError(`readAll: scanWindow must be a positive integer, got ${window}`)
}

export interface ReadAllResult {
  events: RecordedEvent[]
  /** Position a reader may resume after: at least the last event's, further when the filter skipped events. */
  checkpoint: Position | undefined
}

export interface ReadStreamOptions {
  direction?: 'forwards' | 'backwards'
  /** Inclusive start revision (forwards: lowest, backwards: highest). */
  fromRevision?: number
  maxCount?: number
}

export interface StreamRead {
  stream: string
  fromRevision: number
}

export interface SubscribeOptions {
  after?: Position | undefined
  filter?: EventFilter | undefined
  signal?: AbortSignal
  batchSize?: number
}

/**
 * A subscription yields batches: the matching events in position order, and the checkpoint to store
 * once they are handled. A batch may hold no events when the filter skipped everything it scanned,
 * so a filtered consumer still advances.
 */
export interface SubscriptionBatch {
  events: RecordedEvent[]
  checkpoint: Position
}

export interface EventStore {
  readonly kind: 'postgres' | 'memory' | 'kurrentdb'
  append(stream: string, events: NewEvent[], options: { expected: ExpectedRevision }): Promise<AppendResult>
  /** Whether appendMulti keeps `options.answer` in the append's transaction (one commit per command). */
  readonly storesAnswers?: boolean
  /** All or nothing across streams. */
  appendMulti(appends: StreamAppend[], options?: AppendOptions): Promise<AppendResult[]>
  /** Events of one stream; an unknown stream reads as empty. */
  readStream(stream: string, options?: ReadStreamOptions): Promise<RecordedEvent[]>
  /**
   * Events of several streams in one round trip, where the adapter can: each read forwards from its
   * inclusive `fromRevision`, at most `maxCount` events per read; the answer holds one list per
   * read, in the order asked. Without it, callers read the streams one by one.
   */
  readStreams?(reads: readonly StreamRead[], maxCount: number): Promise<RecordedEvent[][]>
  readAll(options?: ReadAllOptions): Promise<ReadAllResult>
  /** Catch-up then live, until the signal aborts. */
  subscribe(options?: SubscribeOptions): AsyncIterable<SubscriptionBatch>
  /** Position of the last committed event, undefined when the store is empty. */
  head(): Promise<Position | undefined>
  /** Number of events between two positions when the adapter can tell (used for lag). */
  distance(from: Position | undefined, to: Position | undefined): number | undefined
  close(): Promise<void>
}

/** Optimistic concurrency failure; `actual` is the stream's current revision (-1 = no stream). */
export class WrongExpectedVersion extends Error {
  override name = 'WrongExpectedVersion'
  readonly stream: string
  readonly expected: ExpectedRevision
  readonly actual: number
  constructor(stream: string, expected: ExpectedRevision, actual: number) {
    super(`stream ${stream}: expected revision ${String(expected)}, actual ${actual}`)
    this.stream = stream
    this.expected = expected
    this.actual = actual
  }
}

/** Some but not all of an append's event ids were already written, or written to another stream. */
export class EventIdConflict extends Error {
  override name = 'EventIdConflict'
  readonly eventIds: string[]
  constructor(message: string, eventIds: string[]) {
    super(message)
    this.eventIds = eventIds
  }
}

/** The append's Idempotency-Key was held already (see AppendOptions.answer); nothing was written. */
export class IdempotencyKeyTaken extends Error {
  override name = 'IdempotencyKeyTaken'
  readonly key: string
  constructor(key: string) {
    super(`Idempotency-Key ${key} is held already`)
    this.key = key
  }
}

/** The store could not be reached or failed; the caller may retry. */
export class EventStoreUnavailable extends Error {
  override name = 'EventStoreUnavailable'
}

const INT8_MAX = 2n ** 63n - 1n
const UINT64_MAX = 2n ** 64n - 1n

/**
 * Whether a position, as a client wrote it, is of the form this kind of store hands out and within
 * what it can hold: a decimal up to PostgreSQL's bigint for Postgres and memory; for KurrentDB
 * `commit/prepare`, each written with 20 digits as the adapter writes them (it compares positions as
 * text, so a shorter one would sort before every event) and at most an unsigned 64-bit number, as the
 * client's positions are. Checked
 * before a read, so a forged one is refused as bad input rather than failing in the store or
 * reading as an empty log.
 */
export function positionFits(kind: EventStore['kind'], position: Position): boolean {
  if (kind === 'kurrentdb') {
    const parts = /^([0-9]{20})\/([0-9]{20})$/.exec(position)
    return parts !== null && BigInt(parts[1]!) <= UINT64_MAX && BigInt(parts[2]!) <= UINT64_MAX
  }
  return /^[0-9]{1,19}$/.test(position) && BigInt(position) <= INT8_MAX
}

export function matchesFilter(event: { stream: string; type: string }, filter: EventFilter | undefined): boolean {
  if (!filter) return true
  if (filter.streamPrefixes && !filter.streamPrefixes.some((p) => event.stream.startsWith(p))) return false
  if (filter.types && !filter.types.includes(event.type)) return false
  return true
}

/**
 * Checks an expectation against the stream's current revision (-1 = no stream): the one statement
 * of the rule in TypeScript (the memory store's). The Postgres store decides the same rule inside
 * its append_batch function, in the statement that appends (see that migration); KurrentDB's
 * server decides it from the stream state the adapter passes on unchanged.
 */
export function checkExpected(stream: string, expected: ExpectedRevision, actual: number): void {
  const ok =
    expected === 'any' ||
    (expected === 'no_stream' && actual === -1) ||
    (expected === 'stream_exists' && actual >= 0) ||
    (typeof expected === 'number' && expected === actual)
  if (!ok) throw new WrongExpectedVersion(stream, expected, actual)
}

export function assertAppendable(appends: StreamAppend[]): void {
  const seenStreams = new Set<string>()
  const seenIds = new Set<string>()
  for (const a of appends) {
    if (seenStreams.has(a.stream)) throw new TypeError(`stream ${a.stream} appears twice in one append`)
    seenStreams.add(a.stream)
    if (a.events.length === 0) throw new TypeError(`append to ${a.stream} has no events`)
    for (const e of a.events) {
      if (seenIds.has(e.id)) throw new TypeError(`event id ${e.id} appears twice in one append`)
      seenIds.add(e.id)
    }
  }
}
