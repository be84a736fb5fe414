import { setTimeout as sleep } from 'node:timers/promises'
import { DeliverPolicy, type JetStreamClient } from '@nats-io/jetstream'
import type { Logger } from 'pino'
import { auditHeadSchema, auditHeadSubject, NOTIFICATION_SCHEMA_VERSION, type AuditHeadMessage } from '../adapters/nats/notification.ts'
import { LeasedLoop } from '../subscriptions/lease.ts'

/** The audit chain's last link: the position of its last event and the chain hash there; undefined while the chain is empty. */
export type AuditHead = { position: string; hash: string }
export type AuditHeadSource = () => Promise<AuditHead | undefined>

export interface AuditHeadPublisherOptions {
  source: AuditHeadSource
  subjectPrefix: string
  publish: (subject: string, payload: string) => Promise<void>
  /** A head is published at least this often, moved or not (ms). */
  intervalMs: number
  /** How often the source is asked whether the head moved (ms; default 1 s, never more than the interval). */
  pollMs?: number
  /** Whether this instance should publish (the one holding the notifier's lease); default: always. */
  active?: () => Promise<boolean>
  logger?: Logger
  now?: () => Date
}

/**
 * Publishes `{position, hash, at}` on `<prefix>.audit.head` whenever the chain head moved and at
 * least every interval. Whoever keeps these messages can later check that the stored chain still
 * passes through every published head: rewriting the audit table, even entirely and consistently,
 * changes the hashes at those positions.
 */
export class AuditHeadPublisher {
  private readonly options: AuditHeadPublisherOptions
  /** Unleased: the notifier's lease decides, through `active`, whether this instance publishes. */
  private readonly loop: LeasedLoop
  private last: { head: AuditHead; at: number } | undefined
  /** Heads published so far (tests, logs). */
  published = 0

  constructor(options: AuditHeadPublisherOptions) {
    this.options = options
    this.loop = new LeasedLoop({ name: 'audit-heads', whileLeased: (signal) => this.publishWhile(signal) })
  }

  start(): void {
    this.loop.start()
  }

  stop(): Promise<void> {
    return this.loop.stop()
  }

  /** One look at the head: publishes it when it moved or the interval has passed. Returns whether it published. */
  async tick(): Promise<boolean> {
    if (this.options.active && !(await this.options.active())) return false
    const head = await this.options.source()
    if (!head) return false
    const now = (this.options.now ?? (() => new Date()))()
    const moved = !this.last || this.last.head.position !== head.position || this.last.head.hash !== head.hash
    const due = !this.last || now.getTime() - this.last.at >= this.options.intervalMs
    if (!moved && !due) return false
    const message: AuditHeadMessage = { schemaVersion: NOTIFICATION_SCHEMA_VERSION, position: head.position, hash: head.hash, at: now.toISOString() }
    await this.options.publish(auditHeadSubject(this.options.subjectPrefix), JSON.stringify(auditHeadSchema.parse(message)))
    this.last = { head, at: now.getTime() }
    this.published++
    return true
  }

  private async publishWhile(signal: AbortSignal): Promise<void> {
    const pollMs = Math.min(this.options.pollMs ?? 1000, this.options.intervalMs)
    while (!signal.aborted) {
      try {
        await this.tick()
      } catch (err) {
        // Kept as not published: the next look tries again.
        this.options.logger?.warn({ err }, 'audit head not published; retrying')
      }
      await sleep(pollMs, undefined, { signal }).catch(() => undefined)
    }
  }
}

export interface PublishedHead extends AuditHeadMessage {
  /** Stream sequence of the message. */
  seq: number
}

/** Every audit head still in the stream, oldest first (messages that do not match the schema are skipped and counted). */
export async function publishedHeads(
  js: JetStreamClient,
  options: { stream: string; subjectPrefix: string; timeoutMs?: number },
): Promise<{ heads: PublishedHead[]; invalid: number }> {
  const consumer = await js.consumers.get(options.stream, { filter_subjects: auditHeadSubject(options.subjectPrefix), deliver_policy: DeliverPolicy.All })
  const info = await consumer.info(true)
  const heads: PublishedHead[] = []
  let invalid = 0
  if (info.num_pending === 0) return { heads, invalid }
  const messages = await consumer.consume({ max_messages: 500 })
  const timer = setTimeout(() => messages.stop(), options.timeoutMs ?? 30_000)
  try {
    for await (const m of messages) {
      const parsed = auditHeadSchema.safeParse(safeJson(m.string()))
      if (parsed.success) heads.push({ ...parsed.data, seq: m.seq })
      else invalid++
      if (m.info.pending === 0) break
    }
  } finally {
    clearTimeout(timer)
    await messages.close().catch(() => undefined)
  }
  return { heads, invalid }
}

export interface HeadCheck {
  checked: number
  /** Published heads whose hash differs from the stored chain at the same position (or whose position the chain no longer has). */
  mismatches: { position: string; published: string; stored: string | undefined; at: string }[]
}

/**
 * Compares published heads with the stored chain: `storedHash(position)` answers the chain hash at
 * a position (undefined when the chain has no such entry). Any mismatch means the stored audit log
 * is not the one that was published.
 */
export async function checkPublishedHeads(heads: AuditHeadMessage[], storedHash: (position: string) => Promise<string | undefined>): Promise<HeadCheck> {
  const mismatches: HeadCheck['mismatches'] = []
  const seen = new Map<string, string | undefined>()
  for (const head of heads) {
    if (!seen.has(head.position)) seen.set(head.position, await storedHash(head.position))
    const stored = seen.get(head.position)
    if (stored !== head.hash) mismatches.push({ position: head.position, published: head.hash, stored, at: head.at })
  }
  return { checked: heads.length, mismatches }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}
