import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'
import type { SnapshotLoads } from './events/fold.ts'

export interface QueueStats {
  due: number
  scheduled: number
  oldestDueSeconds: number
}

/** The event that moves each kind of operation to a status. */
const STEP_STATUS: Record<string, [kind: string, status: string]> = {
  WalletCreationRequested: ['wallet', 'pending'],
  WalletCreated: ['wallet', 'active'],
  WalletCreationFailed: ['wallet', 'failed'],
  DepositAddressRequested: ['address', 'pending'],
  DepositAddressCreated: ['address', 'active'],
  DepositAddressFailed: ['address', 'failed'],
  BankAccountLinkRequested: ['bank_account', 'pending'],
  BankAccountLinked: ['bank_account', 'active'],
  BankAccountLinkFailed: ['bank_account', 'failed'],
  MintRequested: ['mint', 'pending'],
  MintSubmitted: ['mint', 'processing'],
  MintCompleted: ['mint', 'completed'],
  MintFailed: ['mint', 'failed'],
  RedeemRequested: ['redeem', 'pending'],
  RedeemTransferSubmitted: ['redeem', 'processing'],
  RedeemCompleted: ['redeem', 'completed'],
  RedeemFailed: ['redeem', 'failed'],
  TransferRequested: ['transfer', 'pending'],
  TransferSubmitted: ['transfer', 'processing'],
  TransferCompleted: ['transfer', 'completed'],
  TransferFailed: ['transfer', 'failed'],
  CardRequested: ['card', 'pending'],
  CardIssued: ['card', 'active'],
  CardIssueFailed: ['card', 'failed'],
  DepositCompleted: ['deposit', 'completed'],
}

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
  /** Operations reaching each status, counted once per recorded step (a repeated command records none). */
  readonly operations = new Counter({
    name: 'ledger_operations_total',
    help: 'Operations that reached each status, by kind (wallet, address, bank_account, mint, redeem, transfer, card, deposit)',
    labelNames: ['kind', 'status'] as const,
    registers: [this.registry],
  })
  readonly circleCalls = new Counter({
    name: 'circle_calls_total',
    help: 'Calls to Circle by SDK operation and outcome (ok, refused, rate_limited, server_error, timeout, network)',
    labelNames: ['operation', 'outcome'] as const,
    registers: [this.registry],
  })
  readonly circleCallDuration = new Histogram({
    name: 'circle_call_duration_seconds',
    help: 'Latency of each call to Circle (each attempt) by SDK operation',
    labelNames: ['operation'] as const,
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  })
  private readonly lagSources = new Map<string, () => Promise<number | undefined>>()
  private queueSource: (() => Promise<QueueStats>) | undefined
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
  private openDeadLetterSource: (() => Promise<{ kind: string; detail: string; count: number }[]>) | undefined
  private waitingDepositsSource: (() => Promise<{ reason: string; count: number; oldestSeconds: number }[]>) | undefined
  private snapshotLoadsSource: (() => SnapshotLoads) | undefined

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
    const queue = () => this.queueSource?.().catch(() => undefined)
    new Gauge({
      name: 'process_manager_tasks',
      help: 'Process-manager tasks not done: due now (the queue) or scheduled later (waiting for Circle)',
      labelNames: ['state'] as const,
      registers: [this.registry],
      async collect() {
        this.reset()
        const stats = await queue()
        if (!stats) return
        this.set({ state: 'due' }, stats.due)
        this.set({ state: 'scheduled' }, stats.scheduled)
      },
    })
    new Gauge({
      name: 'process_manager_oldest_due_task_age_seconds',
      help: 'How long the oldest due process-manager task has been waiting for a worker (0 when none is due)',
      registers: [this.registry],
      async collect() {
        const stats = await queue()
        if (stats) this.set(stats.oldestDueSeconds)
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
    const waiting = () => metrics.waitingDepositsSource?.().catch(() => undefined)
    new Gauge({
      name: 'deposits_waiting',
      help: 'Inbound deposits the deposit poller listed and could not record yet, by reason: pending at Circle, or to an unknown_wallet',
      labelNames: ['reason'] as const,
      registers: [this.registry],
      async collect() {
        this.reset()
        for (const row of (await waiting()) ?? []) this.set({ reason: row.reason }, row.count)
      },
    })
    new Gauge({
      name: 'deposits_waiting_oldest_age_seconds',
      help: 'How long the oldest waiting deposit has waited since the deposit poller first listed it (0 when none waits)',
      registers: [this.registry],
      async collect() {
        const rows = await waiting()
        if (rows) this.set(Math.max(0, ...rows.map((r) => r.oldestSeconds)))
      },
    })
    new Counter({
      name: 'aggregate_snapshot_loads_total',
      help: 'First loads of long streams that asked for their read-model row: started from it (used), or folded from the first event because it was missing, behind or not this stream\'s (unusable), or because reading it failed (failed)',
      labelNames: ['outcome'] as const,
      registers: [this.registry],
      collect() {
        const loads = metrics.snapshotLoadsSource?.()
        if (!loads) return
        this.reset()
        for (const outcome of ['used', 'unusable', 'failed'] as const) this.inc({ outcome }, loads[outcome])
      },
    })
    if (options.defaultMetrics) collectDefaultMetrics({ register: this.registry })
  }

  /** Where the snapshot-load counter reads its counts at scrape time (the command side's cache). */
  trackSnapshotLoads(source: () => SnapshotLoads): void {
    this.snapshotLoadsSource = source
  }

  /** Where the process-manager queue gauges read from at scrape time. */
  trackQueue(stats: () => Promise<QueueStats>): void {
    this.queueSource = stats
  }

  /** Counts the lifecycle steps an append recorded. */
  countSteps(appended: { events: { type: string }[] }[]): void {
    for (const { events } of appended) {
      for (const { type } of events) {
        const step = STEP_STATUS[type]
        if (step) this.operations.inc({ kind: step[0], status: step[1] })
      }
    }
  }

  /** Where the open dead-letter gauge reads its counts at scrape time. */
  trackOpenDeadLetters(source: () => Promise<{ kind: string; detail: string; count: number }[]>): void {
    this.openDeadLetterSource = source
  }

  /** Where the waiting-deposit gauges read at scrape time (the deposit poller's table). */
  trackWaitingDeposits(source: () => Promise<{ reason: string; count: number; oldestSeconds: number }[]>): void {
    this.waitingDepositsSource = source
  }

  /** Registers a subscriber whose lag the gauge reports at scrape time. */
  trackLag(name: string, lag: () => Promise<number | undefined>): void {
    this.lagSources.set(name, lag)
  }
}
