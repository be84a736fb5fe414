import type pg from 'pg'
import type { Db } from '../adapters/postgres/database.ts'
import { backoffDelay } from '../adapters/retry.ts'
import { openDeadLetter } from '../dead-letters/dead-letters.ts'
import type { Metrics } from '../metrics.ts'
import { Doorbell, holdClaim, workClaimed } from '../subscriptions/doorbell.ts'
import { LeasedLoop } from '../subscriptions/lease.ts'
import { handleNotification, type Handled, type HandlerContext } from './handle.ts'
import { claimDue, markDead, markProcessed, renewClaim, scheduleRetry, type InboxItem } from './inbox.ts'

export interface WebhookWorkerOptions extends Omit<HandlerContext, 'db'> {
  db: Db
  /** For the lease that keeps one active worker across processes. */
  pool: pg.Pool
  metrics?: Metrics
  /** A notification failing this many times becomes a dead letter (WEBHOOK_MAX_ATTEMPTS). */
  maxAttempts?: number
  /** Backoff between attempts: base * 2^attempt, capped, with jitter. */
  retry?: { baseMs: number; maxMs: number }
  concurrency?: number
  /** Idle pause between looks at the inbox when no wake-up comes (another process stored the notification). */
  tickMs?: number
  /** How long a claim lasts unrenewed: a dead worker's notifications are retaken after this (renewed every third of it while handled). */
  claimSeconds?: number
  leaseRetryMs?: number
}

/**
 * Processes the webhook inbox: one active instance (advisory-lock lease), up to `concurrency`
 * notifications in flight. A notification that cannot be applied yet (its Circle id unknown: the
 * webhook overtook our own record) is retried with exponential backoff and jitter; after
 * `maxAttempts` it becomes a dead letter with its last error.
 */
export class WebhookWorker {
  private readonly options: WebhookWorkerOptions
  private readonly doorbell = new Doorbell()
  private readonly lease: LeasedLoop
  private readonly claimSeconds: number

  constructor(options: WebhookWorkerOptions) {
    this.options = options
    this.claimSeconds = options.claimSeconds ?? 15
    this.lease = new LeasedLoop({ pool: options.pool, name: 'webhook-worker', retryMs: options.leaseRetryMs, whileLeased: (signal) => this.whileLeased(signal) })
  }

  /** Holds the lease: this instance processes the inbox. */
  get active(): boolean {
    return this.lease.active
  }

  /** A notification was stored in this process: look now instead of at the next tick. */
  notify(): void {
    this.doorbell.ring()
  }

  start(): void {
    this.lease.start()
  }

  async stop(): Promise<void> {
    const stopped = this.lease.stop()
    this.doorbell.ring()
    await stopped
  }

  private async whileLeased(signal: AbortSignal): Promise<void> {
    // Claims are not released here: an instance that lost its lease still finishes (and renews) the
    // notifications it handles. A dead one's claims expire unrenewed within `claimSeconds`.
    this.options.logger.info('webhook worker active')
    await this.work(signal)
  }

  private work(signal: AbortSignal): Promise<void> {
    return workClaimed(this.doorbell, signal, {
      concurrency: this.options.concurrency ?? 8,
      tickMs: this.options.tickMs ?? 200,
      claim: (limit) => claimDue(this.options.db, limit, this.claimSeconds),
      run: (item) => this.process(item),
      onClaimError: (err) => this.options.logger.error({ err }, 'could not claim webhook notifications'),
    })
  }

  private async process(item: InboxItem): Promise<void> {
    const { db, logger, metrics } = this.options
    const stopRenewing = holdClaim(() => renewClaim(db, item, this.claimSeconds), this.claimSeconds, logger, { notification: item.id })
    let handled: Handled
    try {
      handled = await handleNotification(this.options, item)
    } catch (err) {
      handled = { result: 'retry', reason: err instanceof Error ? err.message : String(err) }
    } finally {
      stopRenewing()
    }
    try {
      if (handled.result !== 'processed') return await this.failed(item, handled.reason, handled.result === 'refused')
      if (!(await markProcessed(db, item))) return claimLost(logger, item)
      metrics?.webhooks.inc({ stage: 'processed' })
      logger.debug({ notification: item.id, type: item.type, note: handled.note }, 'webhook processed')
    } catch (err) {
      logger.error({ err, notification: item.id }, 'could not record how a webhook went; its claim will expire')
    }
  }

  /** Schedules a retry, or sets the notification aside as a dead letter when it is `final` or out of attempts. */
  private async failed(item: InboxItem, error: string, final: boolean): Promise<void> {
    const { db, logger, metrics, store } = this.options
    const attempts = item.attempts + 1
    if (final || attempts >= (this.options.maxAttempts ?? 10)) {
      // A worker that lost its claim records nothing, and opens no dead letter for the notification either.
      if (!(await renewClaim(db, item, this.claimSeconds))) return claimLost(logger, item)
      const deadLetterId = await openDeadLetter(store, db, { kind: 'webhook', subject: item.id, detail: item.type, error, attempts }, 'circle-webhook', item.replays)
      if (!(await markDead(db, item, deadLetterId, error))) return claimLost(logger, item)
      metrics?.webhooks.inc({ stage: 'dead_lettered' })
      metrics?.deadLetters.inc({ source: 'webhook', kind: item.type })
      logger.error({ notification: item.id, type: item.type, attempts, error, deadLetterId }, final ? 'webhook cannot be applied; set aside as a dead letter' : 'webhook keeps failing; set aside as a dead letter')
      return
    }
    const inMs = backoffDelay(item.attempts, this.options.retry ?? { baseMs: 500, maxMs: 60_000 })
    if (!(await scheduleRetry(db, item, inMs, error))) return claimLost(logger, item)
    metrics?.webhooks.inc({ stage: 'retried' })
    logger.info({ notification: item.id, type: item.type, attempts, inMs: Math.round(inMs), error }, 'webhook not applicable yet; will retry')
  }
}

const claimLost = (logger: WebhookWorkerOptions['logger'], item: InboxItem): void =>
  logger.warn({ notification: item.id }, 'a webhook lost its claim before its outcome was recorded; the worker holding it now records it')
