import { EventEmitter } from 'node:events'
import { setTimeout as sleep } from 'node:timers/promises'
import pg from 'pg'
import {
  assertAppendable,
  EventStoreUnavailable,
  WrongExpectedVersion,
  type AppendResult,
  type EventFilter,
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

const CHANNEL = 'ledger_events'
const UNIQUE_VIOLATION = '23505'

/** The append lost: a version mismatch, or (error undefined) an event id already written. */
interface Conflict {
  error: WrongExpectedVersion | undefined
}

interface EventRow {
  position: string
  stream: string
  revision: number
  event_id: string
  type: string
  data: RecordedEvent['data']
  metadata: RecordedEvent['metadata']
  recorded_at: Date
}

export interface PostgresEventStoreOptions {
  /** Fallback poll for subscribers when a NOTIFY is missed (ms). */
  pollIntervalMs?: number
  /** How many positions a filtered read scans at most per round trip. */
  scanWindow?: number
  /** Called with the duration of each append in seconds (metrics). */
  onAppend?: (seconds: number) => void
}

/**
 * Gapless, commit-ordered log. The one-row head counter is taken by the append's last statement
 * and held until COMMIT, so positions become visible in commit order and a rollback leaves no gap:
 * readers need only `position > checkpoint`.
 */
export class PostgresEventStore implements EventStore {
  readonly kind = 'postgres' as const
  private readonly pool: pg.Pool
  private readonly pollIntervalMs: number
  private readonly scanWindow: number
  private readonly onAppend: ((seconds: number) => void) | undefined
  private readonly wake = new EventEmitter()
  private listener: pg.Client | undefined
  private listening: Promise<void> | undefined
  private closed = false

  constructor(pool: pg.Pool, options: PostgresEventStoreOptions = {}) {
    this.pool = pool
    this.pollIntervalMs = options.pollIntervalMs ?? 1000
    this.scanWindow = options.scanWindow ?? 10_000
    this.onAppend = options.onAppend
    this.wake.setMaxListeners(0)
  }

  async append(stream: string, events: NewEvent[], options: { expected: ExpectedRevision }): Promise<AppendResult> {
    const [result] = await this.appendMulti([{ stream, events, expected: options.expected }])
    return result!
  }

  async appendMulti(appends: StreamAppend[]): Promise<AppendResult[]> {
    assertAppendable(appends)
    const started = performance.now()
    // A fixed lock order keeps two multi-stream appends from deadlocking.
    const ordered = [...appends].sort((a, b) => (a.stream < b.stream ? -1 : a.stream > b.stream ? 1 : 0))
    const client = await this.connect()
    let outcome: AppendResult[] | Conflict
    try {
      outcome = await this.tryAppend(client, ordered)
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined)
      client.release(isConnectionError(err) ? (err as Error) : undefined)
      if (isConnectionError(err)) throw new EventStoreUnavailable('event store unreachable', { cause: err })
      throw err
    }
    // Released before the replay check, which needs a connection of its own.
    client.release()
    if (!Array.isArray(outcome)) return this.replayOrThrow(appends, outcome.error)
    this.onAppend?.((performance.now() - started) / 1000)
    const byStream = new Map(outcome.map((r) => [r.stream, r]))
    return appends.map((a) => byStream.get(a.stream)!)
  }

  private async tryAppend(client: pg.PoolClient, appends: StreamAppend[]): Promise<AppendResult[] | Conflict> {
    await client.query('BEGIN')
    const rows: { stream: string; revision: number; ev: NewEvent }[] = []
    for (const a of appends) {
      const n = a.events.length
      // Inserting or bumping the stream row locks it until COMMIT; the new revision tells the old one.
      const res = await client.query<{ revision: number }>(
        `INSERT INTO streams (stream, revision) VALUES ($1, $2 - 1)
         ON CONFLICT (stream) DO UPDATE SET revision = streams.revision + $2
         RETURNING revision`,
        [a.stream, n],
      )
      const actual = res.rows[0]!.revision - n
      if (!expectationHolds(a.expected, actual)) {
        await client.query('ROLLBACK')
        return { error: new WrongExpectedVersion(a.stream, a.expected, actual) }
      }
      a.events.forEach((ev, i) => rows.push({ stream: a.stream, revision: actual + 1 + i, ev }))
    }
    let inserted
    try {
      // The head counter is taken last and held until COMMIT: the lock that orders commits.
      inserted = await client.query<{ position: string; stream: string; revision: number }>(
        `WITH h AS (UPDATE event_head SET position = position + $1 WHERE id RETURNING position)
         INSERT INTO events (position, stream, revision, event_id, type, data, metadata)
         SELECT h.position - $1 + t.ord, t.stream, t.revision, t.event_id, t.type, t.data, t.metadata
         FROM h, unnest($2::text[], $3::int[], $4::uuid[], $5::text[], $6::jsonb[], $7::jsonb[])
              WITH ORDINALITY AS t(stream, revision, event_id, type, data, metadata, ord)
         RETURNING position, stream, revision`,
        [
          rows.length,
          rows.map((r) => r.stream),
          rows.map((r) => r.revision),
          rows.map((r) => r.ev.id),
          rows.map((r) => r.ev.type),
          rows.map((r) => JSON.stringify(r.ev.data)),
          rows.map((r) => JSON.stringify(r.ev.metadata)),
        ],
      )
    } catch (err) {
      if ((err as { code?: string }).code === UNIQUE_VIOLATION) {
        await client.query('ROLLBACK')
        return { error: undefined }
      }
      throw err
    }
    await client.query('COMMIT')
    const last = new Map<string, AppendResult>()
    for (const r of inserted.rows) {
      const prev = last.get(r.stream)
      if (!prev || r.revision > prev.revision) last.set(r.stream, { stream: r.stream, revision: r.revision, position: r.position })
    }
    return appends.map((a) => last.get(a.stream)!)
  }

  /** After a conflict: the same ids already written is a replay (original result), anything else throws. */
  private async replayOrThrow(appends: StreamAppend[], conflict: Error | undefined): Promise<AppendResult[]> {
    const ids = appends.flatMap((a) => a.events.map((e) => e.id))
    const res = await this.pool.query<{ event_id: string; stream: string; revision: number; position: string }>(
      'SELECT event_id, stream, revision, position FROM events WHERE event_id = ANY($1::uuid[])',
      [ids],
    )
    const found = new Map(res.rows.map((r) => [r.event_id, r]))
    const replay = findReplay(appends, (id) => found.get(id))
    if (replay) return replay
    throw conflict ?? new Error('append conflicted without a known cause')
  }

  async readStream(stream: string, options: ReadStreamOptions = {}): Promise<RecordedEvent[]> {
    const backwards = options.direction === 'backwards'
    const from = options.fromRevision ?? (backwards ? 2 ** 31 - 1 : 0)
    const res = await this.query<EventRow>(
      `SELECT position, stream, revision, event_id, type, data, metadata, recorded_at FROM events
       WHERE stream = $1 AND revision ${backwards ? '<=' : '>='} $2
       ORDER BY revision ${backwards ? 'DESC' : 'ASC'} LIMIT $3`,
      [stream, from, options.maxCount ?? 2 ** 31 - 1],
    )
    return res.rows.map(toRecorded)
  }

  async readAll(options: ReadAllOptions = {}): Promise<ReadAllResult> {
    const after = options.after ?? '0'
    const max = options.maxCount ?? 1000
    const filter = options.filter
    if (!filter || (!filter.streamPrefixes && !filter.types)) {
      const res = await this.query<EventRow>(
        `SELECT position, stream, revision, event_id, type, data, metadata, recorded_at FROM events
         WHERE position > $1 ORDER BY position LIMIT $2`,
        [after, max],
      )
      const events = res.rows.map(toRecorded)
      return { events, checkpoint: events.at(-1)?.position ?? options.after }
    }
    // A filtered read scans a bounded window of positions; the window's end is the checkpoint,
    // so a reader advances even when nothing in the window matches.
    const { clause, params } = filterSql(filter, 4)
    const res = await this.query<EventRow & { upper: string }>(
      `WITH bound AS (SELECT LEAST(position, $1::bigint + $2) AS upper FROM event_head)
       SELECT e.position, e.stream, e.revision, e.event_id, e.type, e.data, e.metadata, e.recorded_at, bound.upper
       FROM bound LEFT JOIN events e ON e.position > $1::bigint AND e.position <= bound.upper AND ${clause}
       ORDER BY e.position LIMIT $3`,
      [after, this.scanWindow, max, ...params],
    )
    const upper = res.rows[0]?.upper
    const events = res.rows.filter((r) => r.position !== null).map(toRecorded)
    const checkpoint = events.length === max ? events.at(-1)!.position : BigInt(upper ?? after) > BigInt(after) ? String(upper) : options.after
    return { events, checkpoint }
  }

  async *subscribe(options: SubscribeOptions = {}): AsyncGenerator<SubscriptionBatch> {
    const { signal } = options
    let after = options.after
    await this.listen()
    while (!signal?.aborted && !this.closed) {
      let woke = false
      const onWake = () => (woke = true)
      this.wake.on('append', onWake)
      try {
        const batch = await this.readAll({ after, maxCount: options.batchSize ?? 500, filter: options.filter })
        if (batch.checkpoint !== undefined && batch.checkpoint !== after) {
          after = batch.checkpoint
          yield { events: batch.events, checkpoint: batch.checkpoint }
          continue
        }
        if (!woke) await this.waitForAppend(signal)
      } finally {
        this.wake.off('append', onWake)
      }
    }
  }

  private waitForAppend(signal: AbortSignal | undefined): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer)
        this.wake.off('append', done)
        signal?.removeEventListener('abort', done)
        resolve()
      }
      const timer = setTimeout(done, this.pollIntervalMs)
      this.wake.on('append', done)
      signal?.addEventListener('abort', done, { once: true })
    })
  }

  /** One LISTEN connection per store wakes every subscriber; the poll covers the time it is down. */
  private listen(): Promise<void> {
    this.listening ??= this.connectListener()
    return this.listening
  }

  private async connectListener(): Promise<void> {
    const client = new pg.Client(this.pool.options)
    try {
      await client.connect()
      client.on('notification', () => this.wake.emit('append'))
      client.on('error', () => undefined)
      client.on('end', () => {
        if (this.listener === client) this.listener = undefined
        if (!this.closed) {
          this.listening = undefined
          void sleep(this.pollIntervalMs).then(() => (this.closed ? undefined : this.listen()))
        }
      })
      await client.query(`LISTEN ${CHANNEL}`)
      this.listener = client
    } catch {
      await client.end().catch(() => undefined)
      // Subscribers fall back to polling meanwhile; the next subscribe tries again.
      this.listening = undefined
    }
  }

  async head(): Promise<Position | undefined> {
    const res = await this.query<{ position: string }>('SELECT position FROM event_head WHERE id', [])
    const position = res.rows[0]?.position
    return position === undefined || position === '0' ? undefined : position
  }

  distance(from: Position | undefined, to: Position | undefined): number {
    return Number(BigInt(to ?? '0') - BigInt(from ?? '0'))
  }

  async close(): Promise<void> {
    this.closed = true
    this.wake.emit('append')
    const listener = this.listener
    this.listener = undefined
    await listener?.end().catch(() => undefined)
  }

  private async connect(): Promise<pg.PoolClient> {
    try {
      return await this.pool.connect()
    } catch (err) {
      throw new EventStoreUnavailable('event store unreachable', { cause: err })
    }
  }

  private async query<R extends pg.QueryResultRow>(sql: string, params: unknown[]): Promise<pg.QueryResult<R>> {
    try {
      return await this.pool.query<R>(sql, params)
    } catch (err) {
      if (isConnectionError(err)) throw new EventStoreUnavailable('event store unreachable', { cause: err })
      throw err
    }
  }
}

function expectationHolds(expected: ExpectedRevision, actual: number): boolean {
  return (
    expected === 'any' ||
    (expected === 'no_stream' && actual === -1) ||
    (expected === 'stream_exists' && actual >= 0) ||
    expected === actual
  )
}

function filterSql(filter: EventFilter, firstParam: number): { clause: string; params: unknown[] } {
  const parts: string[] = []
  const params: unknown[] = []
  if (filter.streamPrefixes) {
    params.push(filter.streamPrefixes.map((p) => p.replace(/[\\%_]/g, (c) => `\\${c}`) + '%'))
    parts.push(`e.stream LIKE ANY($${firstParam + params.length - 1}::text[])`)
  }
  if (filter.types) {
    params.push(filter.types)
    parts.push(`e.type = ANY($${firstParam + params.length - 1}::text[])`)
  }
  return { clause: parts.join(' AND ') || 'TRUE', params }
}

function toRecorded(row: EventRow): RecordedEvent {
  return {
    id: row.event_id,
    type: row.type,
    data: row.data,
    metadata: row.metadata,
    stream: row.stream,
    revision: row.revision,
    position: String(row.position),
    recordedAt: row.recorded_at.toISOString(),
  }
}

function isConnectionError(err: unknown): boolean {
  const code = (err as { code?: string } | undefined)?.code
  return (
    code === 'ECONNREFUSED' ||
    code === 'ECONNRESET' ||
    code === 'ENOTFOUND' ||
    code === '57P01' ||
    code === '57P03' ||
    code === '08006' ||
    code === '08001' ||
    (err instanceof Error && /Connection terminated|timeout exceeded when trying to connect/.test(err.message))
  )
}
