import {
  BACKWARDS,
  END,
  eventTypeFilter,
  excludeSystemEvents,
  FORWARDS,
  jsonEvent,
  KurrentDBClient,
  START,
  streamNameFilter,
  StreamNotFoundError,
  WrongExpectedVersionError,
  type AllStreamResolvedEvent,
  type AppendStreamState,
  type Filter,
  type Position as KurrentPosition,
  type ResolvedEvent,
} from '@kurrent/kurrentdb-client'
import {
  assertAppendable,
  checkScanWindow,
  DEFAULT_SCAN_WINDOW,
  EventIdConflict,
  matchesFilter,
  WrongExpectedVersion,
  type AppendResult,
  type EventFilter,
  type EventMetadata,
  type EventStore,
  type ExpectedRevision,
  type JsonObject,
  type NewEvent,
  type Position,
  type ReadAllOptions,
  type ReadAllResult,
  type ReadStreamOptions,
  type RecordedEvent,
  type StreamAppend,
  type SubscribeOptions,
  type SubscriptionBatch,
} from '../../events/event-store.ts'

/** How far back a rejected append looks for its own event ids before calling it a conflict. */
const REPLAY_WINDOW = 1000

/**
 * KurrentDB (EventStoreDB successor) adapter. Positions are `commit/prepare`, each zero-padded to
 * 20 digits, so they compare as strings in log order. Multi-stream appends need KurrentDB 25.1+.
 */
export class KurrentDbEventStore implements EventStore {
  readonly kind = 'kurrentdb' as const
  private readonly client: KurrentDBClient

  constructor(connectionString: string) {
    this.client = KurrentDBClient.connectionString(connectionString)
  }

  async append(stream: string, events: NewEvent[], options: { expected: ExpectedRevision }): Promise<AppendResult> {
    assertAppendable([{ stream, events, expected: options.expected }])
    try {
      const res = await this.client.appendToStream(stream, events.map(toEventData), { streamState: toStreamState(options.expected) })
      // The server reports no position for an append it absorbed as a duplicate.
      if (!res.position) return (await this.findReplay(stream, events)) ?? { stream, revision: Number(res.nextExpectedRevision), position: '' }
      return { stream, revision: Number(res.nextExpectedRevision), position: encodePosition(res.position) }
    } catch (err) {
      if (err instanceof WrongExpectedVersionError) {
        const replay = await this.findReplay(stream, events)
        if (replay) return replay
        throw new WrongExpectedVersion(stream, options.expected, toRevision(err.actualState))
      }
      throw err
    }
  }

  async appendMulti(appends: StreamAppend[]): Promise<AppendResult[]> {
    assertAppendable(appends)
    const [only, ...others] = appends
    if (only !== undefined && others.length === 0) return [await this.append(only.stream, only.events, only)]
    try {
      const res = await this.client.multiStreamAppend(
        appends.map((a) => ({ streamName: a.stream, events: a.events.map(toEventData), expectedState: toStreamState(a.expected) })),
      )
      const position = encodePosition({ commit: res.position, prepare: res.position })
      return appends.map((a) => {
        const r = res.responses.find((x) => x.streamName === a.stream)
        return { stream: a.stream, revision: Number(r?.revision ?? -1n), position }
      })
    } catch (err) {
      if (err instanceof WrongExpectedVersionError) {
        const replays = await Promise.all(appends.map((a) => this.findReplay(a.stream, a.events)))
        if (replays.every((r) => r !== undefined)) return replays as AppendResult[]
        const failed = appends.find((a) => a.stream === err.streamName) ?? only
        if (failed === undefined) throw err
        throw new WrongExpectedVersion(failed.stream, failed.expected, toRevision(err.actualState))
      }
      throw err
    }
  }

  private async findReplay(stream: string, events: NewEvent[]): Promise<AppendResult | undefined> {
    const recent = await this.readStream(stream, { direction: 'backwards', maxCount: REPLAY_WINDOW })
    const byId = new Map(recent.map((e) => [e.id, e]))
    const found = events.map((e) => byId.get(e.id))
    const known = found.filter((e) => e !== undefined)
    if (known.length === 0) return undefined
    if (known.length < found.length) throw new EventIdConflict('some event ids of this append were already written', events.map((e) => e.id))
    const last = known.reduce((m, e) => (e.revision > m.revision ? e : m))
    return { stream, revision: last.revision, position: last.position }
  }

  async readStream(stream: string, options: ReadStreamOptions = {}): Promise<RecordedEvent[]> {
    const backwards = options.direction === 'backwards'
    const out: RecordedEvent[] = []
    try {
      const iterator = this.client.readStream(stream, {
        direction: backwards ? BACKWARDS : FORWARDS,
        fromRevision: options.fromRevision === undefined ? (backwards ? END : START) : BigInt(options.fromRevision),
        maxCount: options.maxCount ?? Number.MAX_SAFE_INTEGER,
      })
      for await (const resolved of iterator) {
        const e = fromResolved(resolved)
        if (e) out.push(e)
      }
    } catch (err) {
      if (err instanceof StreamNotFoundError) return []
      throw err
    }
    return out
  }

  /**
   * Reads user events after a position. The filter is applied here, over a bounded scan, so the
   * checkpoint moves past events the filter skips (a server-side filter would not say how far it read).
   */
  async readAll(options: ReadAllOptions = {}): Promise<ReadAllResult> {
    checkScanWindow(options)
    const max = options.maxCount ?? 1000
    const events: RecordedEvent[] = []
    let checkpoint = options.after
    const iterator = this.client.readAll({
      fromPosition: options.after === undefined ? START : decodePosition(options.after),
      // The server's start is inclusive: one more, so the window counts positions after `after`.
      maxCount: (options.scanWindow ?? DEFAULT_SCAN_WINDOW) + (options.after === undefined ? 0 : 1),
      filter: excludeSystemEvents(),
    })
    for await (const resolved of iterator) {
      const e = fromResolved(resolved)
      // The server's start position is inclusive; the port's `after` is not.
      if (!e || (options.after !== undefined && e.position <= options.after)) continue
      checkpoint = e.position
      if (matchesFilter(e, options.filter)) events.push(e)
      if (events.length >= max) break
    }
    return { events, checkpoint }
  }

  async *subscribe(options: SubscribeOptions = {}): AsyncGenerator<SubscriptionBatch> {
    const queue: SubscriptionBatch[] = []
    let notify: (() => void) | undefined
    let failure: unknown
    const push = (batch: SubscriptionBatch) => {
      queue.push(batch)
      notify?.()
    }
    const filter = serverFilter(options.filter, (position) => push({ events: [], checkpoint: encodePosition(position) }))
    const subscription = this.client.subscribeToAll({
      fromPosition: options.after === undefined ? START : decodePosition(options.after),
      filter,
    })
    subscription.on('data', (resolved: AllStreamResolvedEvent) => {
      const e = fromResolved(resolved)
      if (e && matchesFilter(e, options.filter)) push({ events: [e], checkpoint: e.position })
    })
    subscription.on('error', (err) => {
      failure = err
      notify?.()
    })
    const onAbort = () => notify?.()
    options.signal?.addEventListener('abort', onAbort)
    let last = options.after
    try {
      while (!options.signal?.aborted) {
        if (failure) throw failure
        const next = queue.shift()
        if (!next) {
          await new Promise<void>((resolve) => (notify = resolve))
          notify = undefined
          continue
        }
        if (last !== undefined && next.checkpoint <= last) continue
        last = next.checkpoint
        yield next
      }
    } finally {
      options.signal?.removeEventListener('abort', onAbort)
      await subscription.unsubscribe().catch(() => undefined)
    }
  }

  async head(): Promise<Position | undefined> {
    for await (const resolved of this.client.readAll({ direction: BACKWARDS, fromPosition: END, maxCount: 1, filter: excludeSystemEvents() })) {
      const e = fromResolved(resolved)
      if (e) return e.position
    }
    return undefined
  }

  distance(): undefined {
    return undefined
  }

  async close(): Promise<void> {
    await this.client.dispose()
  }
}

function toEventData(e: NewEvent) {
  return jsonEvent({ id: e.id, type: e.type, data: e.data, metadata: e.metadata as unknown as JsonObject })
}

function toStreamState(expected: ExpectedRevision): AppendStreamState {
  return typeof expected === 'number' ? BigInt(expected) : expected
}

function toRevision(state: bigint | 'no_stream'): number {
  return state === 'no_stream' ? -1 : Number(state)
}

export function encodePosition(p: KurrentPosition): Position {
  return `${p.commit.toString().padStart(20, '0')}/${p.prepare.toString().padStart(20, '0')}`
}

export function decodePosition(position: Position): KurrentPosition {
  const [commit, prepare] = position.split('/')
  if (!commit || !prepare || !/^\d+$/.test(commit) || !/^\d+$/.test(prepare)) throw new TypeError(`not a KurrentDB position: ${position}`)
  return { commit: BigInt(commit), prepare: BigInt(prepare) }
}

function serverFilter(filter: EventFilter | undefined, onCheckpoint?: (p: KurrentPosition) => void): Filter {
  const checkpoint = onCheckpoint ? { checkpointInterval: 1, checkpointReached: (_s: unknown, p: KurrentPosition) => onCheckpoint(p) } : {}
  if (filter?.streamPrefixes) return streamNameFilter({ prefixes: [...filter.streamPrefixes], ...checkpoint })
  if (filter?.types) return eventTypeFilter({ prefixes: [...filter.types], ...checkpoint })
  return excludeSystemEvents(checkpoint)
}

function fromResolved(resolved: ResolvedEvent | AllStreamResolvedEvent): RecordedEvent | undefined {
  const e = resolved.event
  if (!e || !e.isJson || e.type.startsWith('$')) return undefined
  if (!e.position) return undefined
  return {
    id: e.id,
    type: e.type,
    data: e.data as JsonObject,
    metadata: e.metadata as unknown as EventMetadata,
    stream: e.streamId,
    revision: Number(e.revision),
    position: encodePosition(e.position),
    recordedAt: e.created.toISOString(),
  }
}
