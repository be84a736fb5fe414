/**
 * What backendMirror runs to follow the ledger: a durable pull consumer on the LEDGER stream with
 * explicit acks. A notification is acknowledged only after it was handled; a failed one is
 * negatively acknowledged and redelivered after a pause; one already handled (same eventId: the
 * ledger delivers at least once) is acknowledged and skipped.
 *
 *   npm run example:subscriber
 *   NATS_URL=nats://127.0.0.1:4222 DURABLE=backend-mirror FILTER='ledger.v1.mint.>' npm run example:subscriber
 */
import { fileURLToPath } from 'node:url'
import { AckPolicy, DeliverPolicy, JetStreamApiCodes, JetStreamApiError, jetstream, jetstreamManager, type JsMsg } from '@nats-io/jetstream'
import { connect, nanos } from '@nats-io/transport-node'
import { auditHeadSchema, notificationSchema, type AuditHeadMessage, type Notification } from '../src/adapters/nats/notification.ts'

/** Event ids already handled. Keep them where the handler writes its effects, in the same transaction, to dedupe across restarts. */
export interface Seen {
  has(eventId: string): boolean | Promise<boolean>
  add(eventId: string): void | Promise<void>
}

/** In-memory, bounded (oldest forgotten first): enough for redeliveries, not across restarts. */
export function memorySeen(max = 100_000): Seen {
  const ids = new Set<string>()
  return {
    has: (id) => ids.has(id),
    add(id) {
      ids.add(id)
      if (ids.size > max) ids.delete(ids.values().next().value!)
    },
  }
}

export interface ExampleSubscriberOptions {
  servers: string
  stream: string
  /** Durable consumer name: the server keeps its position across restarts of this process. */
  durable: string
  /** Subjects to follow, e.g. `ledger.v1.>` or `ledger.v1.mint.>`. */
  filterSubject: string
  handle(notification: Notification): Promise<void>
  /**
   * The audit chain heads the ledger publishes on `<prefix>.audit.head` (when the filter takes them
   * in): keep them, to prove later that the audit table was not rewritten. Acknowledged after it
   * returns; without it they are acknowledged and dropped.
   */
  auditHead?(head: AuditHeadMessage): Promise<void>
  seen?: Seen
  /** A message not acknowledged within this time is redelivered (ms). */
  ackWaitMs?: number
  /** Pause before a failed message is redelivered; grows with each delivery (ms). */
  retryDelayMs?: number
  signal: AbortSignal
  log?: (line: string) => void
}

/** Creates the durable consumer when missing; NATS 2.9-compatible settings only (one filter subject). */
async function ensureConsumer(options: ExampleSubscriberOptions): Promise<void> {
  const nc = await connect({ servers: options.servers })
  try {
    const jsm = await jetstreamManager(nc)
    try {
      await jsm.consumers.info(options.stream, options.durable)
    } catch (err) {
      if (!(err instanceof JetStreamApiError && err.code === JetStreamApiCodes.ConsumerNotFound)) throw err
      await jsm.consumers.add(options.stream, {
        durable_name: options.durable,
        ack_policy: AckPolicy.Explicit,
        deliver_policy: DeliverPolicy.All,
        filter_subject: options.filterSubject,
        ack_wait: nanos(options.ackWaitMs ?? 30_000),
      })
    }
  } finally {
    await nc.close()
  }
}

/** Runs until the signal aborts. */
export async function runExampleSubscriber(options: ExampleSubscriberOptions): Promise<void> {
  const log = options.log ?? (() => undefined)
  const seen = options.seen ?? memorySeen()
  const retryDelayMs = options.retryDelayMs ?? 1000
  await ensureConsumer(options)
  const nc = await connect({ servers: options.servers, maxReconnectAttempts: -1 })
  try {
    const consumer = await jetstream(nc).consumers.get(options.stream, options.durable)
    const messages = await consumer.consume({ max_messages: 100 })
    const stop = () => void messages.close()
    options.signal.addEventListener('abort', stop, { once: true })
    if (options.signal.aborted) stop()
    for await (const m of messages) {
      if (m.subject.endsWith('.audit.head')) {
        const head = auditHeadSchema.safeParse(safeJson(m.string()))
        if (head.success) {
          await keepHead(options, head.data, m, log, retryDelayMs)
          continue
        }
      }
      const parsed = notificationSchema.safeParse(safeJson(m.string()))
      if (!parsed.success) {
        // Not a notification of a version this code knows (or not one at all): never redeliver it.
        log(`skipping unreadable message ${m.seq} on ${m.subject}`)
        m.term()
        continue
      }
      const n = parsed.data
      if (await seen.has(n.eventId)) {
        m.ack()
        continue
      }
      try {
        await options.handle(n)
        await seen.add(n.eventId)
        m.ack()
      } catch (err) {
        const delay = retryDelayMs * Math.min(m.info.deliveryCount, 30)
        log(`handling ${n.eventId} failed (${err instanceof Error ? err.message : String(err)}); redelivery in ${delay} ms`)
        m.nak(delay)
      }
    }
    options.signal.removeEventListener('abort', stop)
  } finally {
    await nc.drain().catch(() => undefined)
  }
}

async function keepHead(options: ExampleSubscriberOptions, head: AuditHeadMessage, m: JsMsg, log: (line: string) => void, retryDelayMs: number): Promise<void> {
  try {
    await options.auditHead?.(head)
    m.ack()
  } catch (err) {
    log(`keeping audit head ${head.position} failed (${err instanceof Error ? err.message : String(err)}); redelivery in ${retryDelayMs} ms`)
    m.nak(retryDelayMs)
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const prefix = process.env.NATS_SUBJECT_PREFIX ?? 'ledger.v1'
  const controller = new AbortController()
  process.once('SIGINT', () => controller.abort())
  process.once('SIGTERM', () => controller.abort())
  const options: ExampleSubscriberOptions = {
    servers: process.env.NATS_URL ?? 'nats://127.0.0.1:4222',
    stream: process.env.NATS_STREAM ?? 'LEDGER',
    durable: process.env.DURABLE ?? 'backend-mirror',
    filterSubject: process.env.FILTER ?? `${prefix}.>`,
    signal: controller.signal,
    log: (line) => process.stderr.write(`${line}\n`),
    async handle(n) {
      const money = n.amount ? ` ${n.amount} ${n.currency}` : ''
      const failure = n.failure ? ` (${n.failure.code}: ${n.failure.message})` : ''
      process.stdout.write(`${n.occurredAt} ${n.resource} ${n.id} ${n.previousStatus ?? '-'} -> ${n.status}${money}${failure}\n`)
    },
    async auditHead(head) {
      process.stdout.write(`${head.at} audit head at position ${head.position}: ${head.hash}\n`)
    },
  }
  process.stderr.write(`following ${options.filterSubject} on ${options.stream} as ${options.durable} (Ctrl-C to stop)\n`)
  await runExampleSubscriber(options)
}
