import { EventEmitter, on } from 'node:events'
import {
  assertAppendable,
  checkExpected,
  matchesFilter,
  type AppendResult,
  type EventStore,
  type ExpectedRevision,
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
import { findReplay } from './replay.ts'

/** In-process store with the same semantics as the Postgres adapter; positions are "1", "2", ... */
export class MemoryEventStore implements EventStore {
  readonly kind = 'memory' as const
  private readonly log: RecordedEvent[] = []
  private readonly streams = new Map<string, RecordedEvent[]>()
  private readonly byId = new Map<string, RecordedEvent>()
  private readonly wake = new EventEmitter()

  constructor() {
    this.wake.setMaxListeners(0)
  }

  async append(stream: string, events: NewEvent[], options: { expected: ExpectedRevision }): Promise<AppendResult> {
    const [result] = await this.appendMulti([{ stream, events, expected: options.expected }])
    if (result === undefined) throw new Error(`the append to ${stream} got no result`)
    return result
  }

  async appendMulti(appends: StreamAppend[]): Promise<AppendResult[]> {
    assertAppendable(appends)
    const replay = findReplay(appends, (id) => this.byId.get(id))
    if (replay) return replay
    for (const a of appends) checkExpected(a.stream, a.expected, (this.streams.get(a.stream)?.length ?? 0) - 1)
    const recordedAt = new Date().toISOString()
    const results: AppendResult[] = []
    for (const a of appends) {
      const stream = this.streams.get(a.stream) ?? []
      this.streams.set(a.stream, stream)
      for (const e of a.events) {
        const recorded: RecordedEvent = {
          ...structuredClone(e),
          stream: a.stream,
          revision: stream.length,
          position: String(this.log.length + 1),
          recordedAt,
        }
        stream.push(recorded)
        this.log.push(recorded)
        this.byId.set(e.id, recorded)
      }
      const last = stream.at(-1)
      if (last === undefined) throw new Error(`stream ${a.stream} is empty after an append`)
      results.push({ stream: a.stream, revision: last.revision, position: last.position })
    }
    this.wake.emit('append')
    return results
  }

  async readStream(stream: string, options: ReadStreamOptions = {}): Promise<RecordedEvent[]> {
    const all = this.streams.get(stream) ?? []
    const max = options.maxCount ?? Number.MAX_SAFE_INTEGER
    if (options.direction === 'backwards') {
      const from = options.fromRevision ?? all.length - 1
      return all.filter((e) => e.revision <= from).reverse().slice(0, max).map(clone)
    }
    const from = options.fromRevision ?? 0
    return all.filter((e) => e.revision >= from).slice(0, max).map(clone)
  }

  async readAll(options: ReadAllOptions = {}): Promise<ReadAllResult> {
    const start = options.after === undefined ? 0 : Number(options.after)
    const max = options.maxCount ?? 1000
    const events: RecordedEvent[] = []
    let checkpoint: Position | undefined = options.after
    for (let i = start; i < this.log.length && events.length < max; i++) {
      const e = this.log[i]
      if (e === undefined) break
      checkpoint = e.position
      if (matchesFilter(e, options.filter)) events.push(clone(e))
    }
    return { events, checkpoint }
  }

  async *subscribe(options: SubscribeOptions = {}): AsyncGenerator<SubscriptionBatch> {
    const { signal } = options
    let after = options.after
    const wakeups = on(this.wake, 'append', signal ? { signal } : {})
    try {
      while (!signal?.aborted) {
        const batch = await this.readAll({ after, maxCount: options.batchSize ?? 500, filter: options.filter })
        if (batch.checkpoint !== undefined && batch.checkpoint !== after) {
          after = batch.checkpoint
          yield { events: batch.events, checkpoint: batch.checkpoint }
          continue
        }
        await wakeups.next()
      }
    } catch (err) {
      if (!signal?.aborted) throw err
    } finally {
      await wakeups.return?.()
    }
  }

  async head(): Promise<Position | undefined> {
    return this.log.length === 0 ? undefined : String(this.log.length)
  }

  distance(from: Position | undefined, to: Position | undefined): number {
    return Number(to ?? 0) - Number(from ?? 0)
  }

  async close(): Promise<void> {
    this.wake.removeAllListeners()
  }
}

function clone(e: RecordedEvent): RecordedEvent {
  return structuredClone(e)
}
