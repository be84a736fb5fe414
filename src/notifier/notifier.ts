import { setTimeout as sleep } from 'node:timers/promises'
import { DeliverPolicy, jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream'
import { connect, type NatsConnection } from '@nats-io/transport-node'
import type pg from 'pg'
import type { Logger } from 'pino'
import type { Db } from '../adapters/postgres/database.ts'
import { backoffDelay } from '../adapters/retry.ts'
import { notificationSubject, type Notification } from '../adapters/nats/notification.ts'
import { ensureLedgerStream, type LedgerStreamOptions } from '../adapters/nats/stream.ts'
import type { EventStore, Position, RecordedEvent } from '../events/event-store.ts'
import { Subscriber, type SubscriberStatus } from '../subscriptions/subscriber.ts'
import { AuditHeadPublisher, type AuditHeadSource } from './audit-heads.ts'
import { NOTIFYING_STREAM_PREFIXES, NotificationMapper } from './notifications.ts'

export interface NotifierOptions {
  store: EventStore
  db: Db
  /** For the lease that keeps one active notifier across processes; omit in single-process tests. */
  leasePool?: pg.Pool
  logger?: Logger
  /** NATS server URL(s). */
  servers: string | string[]
  stream: LedgerStreamOptions
  /** How long to wait for one PubAck before the publish counts as failed and is retried (ms). */
  publishTimeoutMs?: number
  /** Base and maximum pause between publish retries (ms): full-jitter exponential backoff. */
  retry?: { firstMs: number; maxMs: number }
  /** Checkpoint name; one notifier per name is active. */
  name?: string
  batchSize?: number
  /** Publishes the audit chain head when given. */
  auditHead?: { source: AuditHeadSource; intervalMs: number; pollMs?: number }
}

export type NotifierHealth = { status: 'ok' } | { status: 'degraded'; reason: string }

/** The notifier was stopped while it waited for NATS. */
class NotifierStopped extends Error {
  override name = 'NotifierStopped'
}

/**
 * Publishes every status change to JetStream, in event order, at least once: a subscriber with its
 * own checkpoint maps each batch of events to notifications, publishes them in waves of messages of
 * distinct resources (each wave all at once, many PubAcks in flight) and lets the checkpoint move
 * only when every PubAck of the batch arrived. While NATS is down or slow the batch is retried with backoff from its first
 * unacknowledged message, the checkpoint waits (the lag grows) and the rest of the service is
 * unaffected. Each message carries `Nats-Msg-Id` = event id, so JetStream drops a republished
 * message within its duplicate window; beyond the window (a long outage, a restart after a long
 * stop) the notifier first asks the stream which of the pending messages it already holds.
 */
export class Notifier {
  readonly subscriber: Subscriber
  private readonly options: NotifierOptions
  private readonly mapper: NotificationMapper
  private readonly auditHeads: AuditHeadPublisher | undefined
  private controller = new AbortController()
  private running: Promise<void> | undefined
  private nc: NatsConnection | undefined
  private js: JetStreamClient | undefined
  private jsm: JetStreamManager | undefined
  private ready = Promise.withResolvers<void>()
  private disconnected = true
  private lastError: string | undefined
  /**
   * The stream's last sequence when this instance's current run (lease) began, and the highest
   * sequence a PubAck of that run has given: what markHeld reads between.
   */
  private run: { leased: AbortSignal; takeoverSeq: number; ackedSeq: number } | undefined
  /** PubAcks received, and how many of them JetStream marked as duplicates. */
  readonly counts = { published: 0, duplicates: 0, retries: 0 }

  constructor(options: NotifierOptions) {
    this.options = options
    this.mapper = new NotificationMapper(options.store)
    this.subscriber = new Subscriber({
      name: options.name ?? 'notifier',
      mode: 'at-least-once',
      store: options.store,
      db: options.db,
      ...(options.leasePool ? { leasePool: options.leasePool } : {}),
      ...(options.logger ? { logger: options.logger } : {}),
      filter: { streamPrefixes: NOTIFYING_STREAM_PREFIXES },
      batchSize: options.batchSize ?? 500,
      handle: (events, leased) => this.handle(events, leased),
    })
    if (options.auditHead) {
      this.auditHeads = new AuditHeadPublisher({
        source: options.auditHead.source,
        intervalMs: options.auditHead.intervalMs,
        ...(options.auditHead.pollMs !== undefined ? { pollMs: options.auditHead.pollMs } : {}),
        subjectPrefix: options.stream.subjectPrefix,
        // Standby instances stay quiet: only the instance holding the notifier's lease publishes heads.
        active: async () => (await this.subscriber.status()).active,
        publish: async (subject, payload) => {
          const js = await this.jetstream()
          await js.publish(subject, payload, { timeout: this.publishTimeoutMs })
        },
        ...(options.logger ? { logger: options.logger } : {}),
      })
    }
  }

  /** Connects to NATS in the background (retrying until it answers) and starts publishing. */
  start(): void {
    if (this.running) return
    this.controller = new AbortController()
    this.ready = Promise.withResolvers<void>()
    this.ready.promise.catch(() => undefined)
    this.running = this.connectLoop(this.controller.signal)
    this.subscriber.start()
    this.auditHeads?.start()
  }

  async stop(): Promise<void> {
    const subscriber = this.subscriber.stop()
    this.controller.abort()
    this.ready.reject(new NotifierStopped('notifier stopped'))
    await subscriber
    await this.auditHeads?.stop()
    await this.running
    this.running = undefined
    const nc = this.nc
    this.nc = undefined
    await nc?.close().catch(() => undefined)
  }

  /** For /health: NATS unreachable or refusing publishes degrades the service; the ledger itself keeps working. */
  health(): NotifierHealth {
    if (!this.nc || this.disconnected) return { status: 'degraded', reason: 'not connected to NATS; notifications are queued in the event store' }
    if (this.lastError) return { status: 'degraded', reason: `publishing to NATS fails: ${this.lastError}` }
    return { status: 'ok' }
  }

  /** Events between the store head and the notifier's checkpoint. */
  async lag(): Promise<number | undefined> {
    return (await this.status()).lag
  }

  status(): Promise<SubscriberStatus> {
    return this.subscriber.status()
  }

  /** Resolves once every event up to `position` is published (tests, benchmarks). */
  caughtUp(position: Position, timeoutMs?: number): Promise<void> {
    return this.subscriber.caughtUp(position, timeoutMs)
  }

  private get publishTimeoutMs(): number {
    return this.options.publishTimeoutMs ?? 5000
  }

  private async jetstream(): Promise<JetStreamClient> {
    await this.ready.promise
    if (this.js === undefined) throw new Error('NATS JetStream is not connected')
    return this.js
  }

  private async connectLoop(signal: AbortSignal): Promise<void> {
    const { firstMs, maxMs } = this.options.retry ?? { firstMs: 200, maxMs: 10_000 }
    let failures = 0
    while (!signal.aborted) {
      try {
        const nc = await connect({
          servers: this.options.servers,
          name: `circle-ledger-${this.subscriber.name}`,
          // Reconnect forever: the event store keeps every pending notification meanwhile.
          maxReconnectAttempts: -1,
          reconnectTimeWait: 250,
          pingInterval: 10_000,
          // Without it every publish builds two errors up front (a RequestError and a TimeoutError,
          // stack traces included) in case it fails: 1.9% of the service's CPU in the commands
          // benchmark. The trace would only name publishAll, the one place that publishes.
          noAsyncTraces: true,
        })
        if (signal.aborted) {
          await nc.close()
          return
        }
        this.nc = nc
        this.disconnected = false
        void this.watch(nc)
        this.jsm = await jetstreamManager(nc, { timeout: this.publishTimeoutMs })
        this.js = jetstream(nc, { timeout: this.publishTimeoutMs })
        const { action, info } = await ensureLedgerStream(this.jsm, this.options.stream)
        this.options.logger?.info({ stream: info.config.name, subjects: info.config.subjects, action }, 'NATS stream ready')
        this.lastError = undefined
        this.ready.resolve()
        return
      } catch (err) {
        if (signal.aborted) return
        this.lastError = describe(err)
        const nc = this.nc
        this.nc = undefined
        await nc?.close().catch(() => undefined)
        const delay = backoffDelay(failures++, { baseMs: firstMs, maxMs })
        this.options.logger?.warn({ err, retryInMs: Math.round(delay) }, 'NATS unavailable; notifications wait in the event store')
        await sleep(delay, undefined, { signal }).catch(() => undefined)
      }
    }
  }

  private async watch(nc: NatsConnection): Promise<void> {
    for await (const s of nc.status()) {
      if (s.type === 'disconnect') {
        this.disconnected = true
        this.options.logger?.warn({ server: s.server }, 'NATS disconnected; notifications wait in the event store')
      } else if (s.type === 'reconnect') {
        this.disconnected = false
        this.options.logger?.info({ server: s.server }, 'NATS reconnected')
      }
    }
  }

  private async handle(events: RecordedEvent[], leased: AbortSignal): Promise<void> {
    const notes: Notification[] = []
    let oldest = Infinity
    for (const event of events) {
      const note = await this.mapper.map(event)
      if (!note) continue
      notes.push(note)
      oldest = Math.min(oldest, Date.parse(event.recordedAt))
    }
    if (notes.length > 0) await this.publishAll(notes, oldest, leased)
  }

  /**
   * Publishes `notes` in order until every one is acknowledged, in waves: each wave is the next
   * unacknowledged notes up to the first whose resource is already in it, pipelined (all on the
   * wire, then their PubAcks awaited). So in normal operation the stream holds the notes in event
   * order, and a message NATS refuses (or loses in a failover) while later ones get through is sent
   * again before any later status of its resource. A failure retries every note not acknowledged
   * (some may be stored already: their msg ids make JetStream drop the repeats). `signal` (the
   * subscriber's run) ends the work when this instance stops or loses its lease: retrying beside
   * the one that took over would break that order.
   */
  private async publishAll(notes: Notification[], oldestRecordedAt: number, signal: AbortSignal): Promise<void> {
    const { firstMs, maxMs } = this.options.retry ?? { firstMs: 200, maxMs: 10_000 }
    const { subjectPrefix, duplicateWindowMs } = this.options.stream
    const acked = notes.map(() => false)
    // A message cannot have been published before its event was recorded: while the oldest event is
    // well inside the duplicate window, JetStream itself drops any earlier copy. Past that (a long
    // outage, a restart after a long stop), ask the stream what it already holds, first and after
    // each failure.
    const pastWindow = () => Date.now() - oldestRecordedAt > duplicateWindowMs / 2
    let ask = pastWindow()
    let failures = 0
    // Every message this batch stores comes after the last one the run stored before it.
    let floorSeq: number | undefined
    while (acked.includes(false)) {
      if (signal.aborted) throw new NotifierStopped('notifier stopped')
      try {
        const js = await abortable(this.jetstream(), signal)
        // While the client reconnects it would only buffer the messages; wait for the server instead.
        while (this.disconnected) await sleep(100, undefined, { signal })
        const run = await this.runOf(signal)
        floorSeq ??= run.ackedSeq
        if (ask) {
          await this.markHeld(js, notes, acked, { oldestRecordedAt, takeoverSeq: run.takeoverSeq, floorSeq }, signal)
          ask = false
          continue
        }
        const wave = nextWave(notes, acked)
        const inFlight = wave.map((i) => {
          const n = notes[i]!
          return js.publish(notificationSubject(subjectPrefix, n), JSON.stringify(n), { msgID: n.eventId, timeout: this.publishTimeoutMs }).then((ack) => {
            if (ack.duplicate) this.counts.duplicates++
            this.counts.published++
            run.ackedSeq = Math.max(run.ackedSeq, ack.seq)
            acked[i] = true
          })
        })
        const failed = (await Promise.allSettled(inFlight)).find((r) => r.status === 'rejected')
        if (failed) throw failed.reason
        failures = 0
        this.lastError = undefined
      } catch (err) {
        if (signal.aborted) throw new NotifierStopped('notifier stopped')
        this.lastError = describe(err)
        this.counts.retries++
        const delay = backoffDelay(failures++, { baseMs: firstMs, maxMs })
        this.options.logger?.warn({ err, pending: acked.filter((a) => !a).length, retryInMs: Math.round(delay) }, 'NATS publish failed; retrying')
        await sleep(delay, undefined, { signal }).catch(() => undefined)
        // A server that lost its state (or a stream deleted meanwhile) gets the stream back before the retry.
        if (this.jsm) await ensureLedgerStream(this.jsm, this.options.stream).catch(() => undefined)
        ask = pastWindow()
      }
    }
  }

  /** This run's sequences: the stream's last one is read once, when the run's first batch goes out. */
  private async runOf(leased: AbortSignal): Promise<{ takeoverSeq: number; ackedSeq: number }> {
    if (this.run?.leased !== leased) {
      if (this.jsm === undefined) throw new Error('NATS JetStream is not connected')
      const last = (await this.jsm.streams.info(this.options.stream.name)).state.last_seq
      this.run = { leased, takeoverSeq: last, ackedSeq: last }
    }
    return this.run
  }

  /**
   * Marks the notes the stream holds already, by msg id (the event id). Two reads, headers only:
   * what an earlier instance stored before this run took over, from shortly before the oldest
   * note's event was recorded (no copy can be older) up to `takeoverSeq`; and what this batch
   * stored, after `floorSeq`. The batches this run published in between are not read again. A read
   * cut short only leaves notes to publish again: JetStream or consumers drop the repeats.
   */
  private async markHeld(js: JetStreamClient, notes: Notification[], acked: boolean[], range: { oldestRecordedAt: number; takeoverSeq: number; floorSeq: number }, signal: AbortSignal): Promise<void> {
    const held = new Set<string>()
    const from = new Date(range.oldestRecordedAt - CLOCK_SKEW_MS).toISOString()
    await this.readIds(js, { deliver_policy: DeliverPolicy.StartTime, opt_start_time: from }, range.takeoverSeq, held, signal)
    await this.readIds(js, { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: range.floorSeq + 1 }, Number.MAX_SAFE_INTEGER, held, signal)
    for (const [i, n] of notes.entries()) if (held.has(n.eventId)) acked[i] = true
  }

  /** Adds to `held` the msg ids of the notifications from `start` up to sequence `upTo`, with an ordered consumer deleted after. */
  private async readIds(
    js: JetStreamClient,
    start: { deliver_policy: DeliverPolicy; opt_start_time?: string; opt_start_seq?: number },
    upTo: number,
    held: Set<string>,
    signal: AbortSignal,
  ): Promise<void> {
    const { name, subjectPrefix } = this.options.stream
    // Notifications only (<prefix>.<resource>.<status>.<wallet>), not the audit heads.
    const consumer = await js.consumers.get(name, { filter_subjects: `${subjectPrefix}.*.*.*`, headers_only: true, ...start })
    try {
      let left = (await consumer.info(true)).num_pending
      // In chunks: past `upTo` the rest (this run's own later batches, for the first read) is not fetched.
      while (left > 0 && !signal.aborted) {
        const messages = await consumer.fetch({ max_messages: Math.min(left, READ_CHUNK), expires: this.publishTimeoutMs })
        // A fetch waits through a disconnection: a stop, or its own deadline, ends it.
        const stop = () => void messages.stop()
        const deadline = setTimeout(stop, 2 * this.publishTimeoutMs)
        signal.addEventListener('abort', stop, { once: true })
        let read = 0
        try {
          for await (const m of messages) {
            if (m.seq > upTo) return
            read++
            const id = m.headers?.get('Nats-Msg-Id')
            if (id) held.add(id)
          }
        } finally {
          clearTimeout(deadline)
          signal.removeEventListener('abort', stop)
          void messages.stop()
        }
        // A chunk that brought nothing (expired, stopped) ends the read: what it missed is published again.
        if (read === 0) return
        left -= read
      }
    } finally {
      await consumer.delete().catch(() => undefined)
    }
  }
}

/** Message headers fetched at a time when markHeld reads the stream. */
const READ_CHUNK = 1000

/** How far the event store's clock may be ahead of the NATS server's. */
const CLOCK_SKEW_MS = 5 * 60_000

/**
 * The next wave: the unacknowledged notes in order, up to the first whose resource is already in
 * it (acknowledged notes are stored and hold nothing back).
 */
export function nextWave(notes: readonly Notification[], acked: readonly boolean[]): number[] {
  const resources = new Set<string>()
  const wave: number[] = []
  for (const [i, n] of notes.entries()) {
    if (acked[i]) continue
    const resource = `${n.resource}/${n.id}`
    if (resources.has(resource)) break
    resources.add(resource)
    wave.push(i)
  }
  return wave
}

function describe(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err)
}

function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(new NotifierStopped('notifier stopped'))
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(new NotifierStopped('notifier stopped'))
    signal.addEventListener('abort', onAbort, { once: true })
    promise.then(
      (v) => (signal.removeEventListener('abort', onAbort), resolve(v)),
      (e: unknown) => (signal.removeEventListener('abort', onAbort), reject(e instanceof Error ? e : new Error(String(e)))),
    )
  })
}
