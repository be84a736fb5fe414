import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'

/** The service's Prometheus metrics; one instance per process (tests make their own). */
export class Metrics {
  readonly registry = new Registry()
  readonly httpRequests = new Counter({
    name: 'http_requests_total',
    help: 'HTTP requests by route, method and status',
    labelNames: ['route', 'method', 'status'] as const,
    registers: [this.registry],
  })
  readonly httpDuration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP request latency by route, method and status',
    labelNames: ['route', 'method', 'status'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  })
  readonly appendDuration = new Histogram({
    name: 'event_store_append_seconds',
    help: 'Event store append latency',
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    registers: [this.registry],
  })
  /** Webhook intake and processing, by stage: received, verified, rejected, duplicate, processed, retried, dead_lettered. */
  readonly webhooks = new Counter({
    name: 'webhooks_total',
    help: 'Circle webhook notifications by stage (received, verified, rejected, duplicate, processed, retried, dead_lettered)',
    labelNames: ['stage'] as const,
    registers: [this.registry],
  })
  readonly taskAttempts = new Counter({
    name: 'pm_task_attempts_total',
    help: 'Process-manager task attempts by task kind and result (ok, failed)',
    labelNames: ['kind', 'result'] as const,
    registers: [this.registry],
  })
  readonly deadLetters = new Counter({
    name: 'dead_letters_total',
    help: 'Work set aside as a dead letter, by source (webhook, task) and kind (notification type or task kind)',
    labelNames: ['source', 'kind'] as const,
    registers: [this.registry],
  })
  private readonly lagSources = new Map<string, () => Promise<number | undefined>>()
  private openDeadLetterSource: (() => Promise<{ kind: string; detail: string; count: number }[]>) | undefined

  constructor(options: { defaultMetrics?: boolean } = {}) {
    const sources = this.lagSources
    new Gauge({
      name: 'subscriber_lag_events',
      help: 'Events between the store head and each subscriber checkpoint',
      labelNames: ['subscriber'] as const,
      registers: [this.registry],
      async collect() {
        this.reset()
        for (const [name, lag] of sources) {
          const value = await lag().catch(() => undefined)
          if (value !== undefined) this.set({ subscriber: name }, value)
        }
      },
    })
    const metrics = this
    new Gauge({
      name: 'dead_letters_open',
      help: 'Dead letters waiting for an admin, by source (webhook, task) and kind',
      labelNames: ['source', 'kind'] as const,
      registers: [this.registry],
      async collect() {
        this.reset()
        const rows = await metrics.openDeadLetterSource?.().catch(() => undefined)
        for (const row of rows ?? []) this.set({ source: row.kind, kind: row.detail }, row.count)
      },
    })
    if (options.defaultMetrics) collectDefaultMetrics({ register: this.registry })
  }

  /** Where the open dead-letter gauge reads its counts at scrape time. */
  trackOpenDeadLetters(source: () => Promise<{ kind: string; detail: string; count: number }[]>): void {
    this.openDeadLetterSource = source
  }

  /** Registers a subscriber whose lag the gauge reports at scrape time. */
  trackLag(name: string, lag: () => Promise<number | undefined>): void {
    this.lagSources.set(name, lag)
  }
}
