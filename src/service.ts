import type { Logger } from 'pino'
import { sql } from 'kysely'
import type { Config } from './config.ts'
import { HttpCardIssuer } from './adapters/card-issuer/http.ts'
import { CircleSdkAdapter } from './adapters/circle/sdk.ts'
import { createCircleSimulator } from './adapters/circle/simulator/simulator.ts'
import { postgresState } from './adapters/circle/simulator/state.ts'
import { createEventStore } from './adapters/event-store/index.ts'
import { createDb, createPool, ensureDatabase, migrate, type Db } from './adapters/postgres/database.ts'
import { TableMaintenance } from './adapters/postgres/maintenance.ts'
import { cacheOf } from './events/fold.ts'
import { parseAmount } from './events/money.ts'
import { buildApp } from './http/app.ts'
import { DependencyDegraded, type HealthCheck } from './http/routes/health.ts'
import { developmentApiKeys, DEVELOPMENT_KEYS } from './http/plugins/auth.ts'
import { purgeExpiredIdempotencyKeys } from './http/plugins/idempotency.ts'
import { ledgerRunners } from './ledger/index.ts'
import { Metrics } from './metrics.ts'
import { Admission } from './process-manager/admission.ts'
import { DepositPoller, waitingDeposits } from './process-manager/deposit-poller.ts'
import type { AuditHead } from './notifier/audit-heads.ts'
import { Notifier } from './notifier/notifier.ts'
import { auditHead } from './ledger/audit.ts'
import { ProcessManager } from './process-manager/process-manager.ts'
import { documentModels, readModels } from './projections/index.ts'
import { documentSnapshots } from './projections/snapshots.ts'
import { beginRun, Reconciler, reconcileOptionsOf, type ReconcileOptions, type ReconcilerDeps } from './reconciliation/reconciler.ts'
import { checkpointName } from './subscriptions/projection.ts'
import { ProjectionRunner } from './subscriptions/projection-runner.ts'
import { readYourWrites } from './subscriptions/read-your-writes.ts'
import { queueStats } from './process-manager/tasks.ts'


import { SNS_TOPIC_ARN } from './adapters/circle/simulator/webhooks.ts'
import { CirclePublicKeys } from './webhooks/public-keys.ts'
import { SnsCertificates } from './webhooks/sns.ts'
import { WebhookVerifier } from './webhooks/verify.ts'
import { WebhookWorker } from './webhooks/worker.ts'

export const ROLES = ['api', 'projections', 'process-manager', 'webhook-worker', 'notifier', 'reconciler'] as const
export type Role = (typeof ROLES)[number]

export interface RunningService {
  url: string | undefined
  /** Base URL of the embedded Circle simulator, when no Circle key is configured. */
  simulatorUrl: string | undefined
  /** Bearer token of the embedded simulator's `/sim/*` control routes. */
  simulatorControlToken: string | undefined
  /** The notifier, when this process runs that role. */
  notifier: Notifier | undefined
  stop(): Promise<void>
}

export interface ServiceOptions {
  /** Reads the audit chain head; defaults to the audit log's own `auditHead(db)` (tests inject another). */
  auditHead?: (db: Db) => Promise<AuditHead | undefined>
}

/** Composition root shared by `npm start` and the tests: adapters, migrations, the chosen roles. */
export async function startService(config: Config, roles: Role[], logger: Logger, options: ServiceOptions = {}): Promise<RunningService> {
  await ensureDatabase(config.DATABASE_URL)
  const pool = createPool(config.DATABASE_URL, 20)
  const db = createDb(pool)
  const applied = await migrate(db)
  if (applied.length > 0) logger.info({ migrations: applied }, 'migrations applied')
  const metrics = new Metrics({ defaultMetrics: true })
  const store = createEventStore(config, pool, { onAppend: (s) => metrics.appendDuration.observe(s) })
  // A long stream's first load after a start begins at its read-model row, not its first event.
  const cache = cacheOf(store)
  cache.snapshots = documentSnapshots(db, documentModels)
  metrics.trackSnapshotLoads(() => cache.snapshotLoads)
  // Stopped in reverse order of start: the API first, the simulator (a dependency) last.
  const stops: (() => Promise<void>)[] = []
  if (config.DB_MAINTENANCE_INTERVAL_MS > 0) {
    const maintenance = new TableMaintenance({ pool, logger, intervalMs: config.DB_MAINTENANCE_INTERVAL_MS, leaseRetryMs: config.LEASE_RETRY_MS })
    if (await maintenance.start()) stops.unshift(() => maintenance.stop())
  }

  let simulatorUrl: string | undefined
  let simulatorControlToken: string | undefined
  let circleBaseUrl = config.CIRCLE_BASE_URL
  if (!config.CIRCLE_API_KEY) {
    // Durable in the ledger's own database (schema circle_sim): a restart never hands out a Circle id twice,
    // and every instance on this database sees the same Circle.
    const simulator = await createCircleSimulator({
      settleMs: config.SIMULATOR_SETTLE_MS,
      treasury: config.SIMULATOR_TREASURY,
      state: await postgresState(config.DATABASE_URL),
      ...(config.SIMULATOR_CONTROL_TOKEN ? { controlToken: config.SIMULATOR_CONTROL_TOKEN } : {}),
    })
    simulatorUrl = await simulator.listen(0, '127.0.0.1')
    simulatorControlToken = simulator.controlToken
    circleBaseUrl = simulatorUrl
    stops.unshift(() => simulator.close())
    logger.warn(
      { simulatorUrl, ...(config.SIMULATOR_CONTROL_TOKEN ? {} : { simulatorControlToken }) },
      `CIRCLE_API_KEY is unset: using the embedded Circle simulator at ${simulatorUrl} (state in schema circle_sim; simulate a deposit: POST ${simulatorUrl}/sim/deposits {"walletId": <circleWalletId>, "amount": "5.00", "chain": "SOL"} with Authorization: Bearer <control token>)`,
    )
  }
  // The configuration check requires both with CIRCLE_API_KEY; without it both are the simulator's.
  const issuerUrl = config.CARD_ISSUER_URL ?? simulatorUrl
  if (circleBaseUrl === undefined || issuerUrl === undefined) throw new Error('CIRCLE_BASE_URL and CARD_ISSUER_URL are required with CIRCLE_API_KEY')
  const circleUrl = circleBaseUrl
  const circle = new CircleSdkAdapter({
    apiKey: config.CIRCLE_API_KEY ?? 'SIMULATOR',
    baseUrl: circleUrl,
    timeoutMs: config.CIRCLE_TIMEOUT_MS,
    ratePerSecond: config.CIRCLE_RATE_PER_SECOND,
    logger,
    metrics,
  })
  // Circle has no card issuing: the issuer is its own service, by default the simulator's issuing routes.
  const issuer = new HttpCardIssuer({ baseUrl: issuerUrl, apiKey: config.CARD_ISSUER_API_KEY ?? 'SIMULATOR', timeoutMs: config.CIRCLE_TIMEOUT_MS, logger })

  let projections: ProjectionRunner | undefined
  if (roles.includes('projections')) {
    const runner = new ProjectionRunner({ projections: readModels, store, db, leasePool: pool, logger })
    projections = runner
    metrics.trackLag('read-models', () => runner.status().then((s) => s.lag))
    runner.start()
    stops.unshift(() => runner.stop())
    // The journal and the audit log run beside the read models, each with its own checkpoint and lease.
    const ledger = ledgerRunners({ store, db, leasePool: pool, logger })
    metrics.trackLag('journal', () => ledger.journal.status().then((s) => s.lag))
    metrics.trackLag('audit-log', () => ledger.audit.status().then((s) => s.lag))
    ledger.start()
    stops.unshift(() => ledger.stop())
  }

  let worker: WebhookWorker | undefined
  if (roles.includes('webhook-worker')) {
    worker = new WebhookWorker({
      store,
      db,
      pool,
      issuer,
      masterWalletId: () => circle.masterWalletId(),
      logger,
      metrics,
      maxAttempts: config.WEBHOOK_MAX_ATTEMPTS,
      retry: { baseMs: config.WEBHOOK_RETRY_BASE_MS, maxMs: 60_000 },
    })
    worker.start()
    const running = worker
    stops.unshift(() => running.stop())
  }

  if (roles.includes('process-manager')) {
    const pm = new ProcessManager({
      store,
      db,
      pool,
      circle,
      issuer,
      logger,
      metrics,
      pollMs: config.CIRCLE_POLL_INTERVAL_MS,
      // A client may retry a failed submission as long as its Idempotency-Key lives (and its lock lets go).
      submissionAbandonMs: config.IDEMPOTENCY_TTL_HOURS * 3_600_000 + config.IDEMPOTENCY_LOCK_SECONDS * 1000,
      leaseRetryMs: config.LEASE_RETRY_MS,
      // Polling backs off only where a webhook worker runs beside it: webhooks stored but never processed must not slow the fallback.
      ...(roles.includes('webhook-worker') ? { webhookBackoff: { pollMs: config.CIRCLE_POLL_INTERVAL_WITH_WEBHOOKS_MS, windowMs: 5 * 60_000 } } : {}),
      maxAttempts: config.TASK_MAX_ATTEMPTS,
      maxAgeMs: config.TASK_MAX_AGE * 1000,
    })
    metrics.trackQueue(() => queueStats(db))
    metrics.trackLag('process-manager', () => pm.lag)
    pm.start()
    stops.unshift(() => pm.stop())
    const deposits = new DepositPoller({ store, db, pool, circle, logger, metrics, intervalMs: config.CIRCLE_POLL_INTERVAL_MS })
    metrics.trackWaitingDeposits(() => waitingDeposits(db))
    deposits.start()
    stops.unshift(() => deposits.stop())
  }

  let notifier: Notifier | undefined
  const health: Record<string, HealthCheck> = {
    database: async () => void (await sql`SELECT 1`.execute(db)),
    eventStore: async () => void (await store.head()),
  }
  if (roles.includes('notifier')) {
    const running = new Notifier({
      store,
      db,
      leasePool: pool,
      logger,
      servers: config.NATS_URL,
      stream: {
        name: config.NATS_STREAM,
        subjectPrefix: config.NATS_SUBJECT_PREFIX,
        maxAgeMs: config.NATS_STREAM_MAX_AGE,
        duplicateWindowMs: config.NATS_DUPLICATE_WINDOW,
      },
      publishTimeoutMs: config.NATS_PUBLISH_TIMEOUT,
      // The audit log's chain head leaves the database on NATS, so a rewrite of the whole table is detectable.
      auditHead: { source: () => (options.auditHead ?? auditHead)(db), intervalMs: config.AUDIT_HEAD_INTERVAL },
    })
    notifier = running
    metrics.trackLag('notifier', () => running.lag())
    // NATS down degrades the service without failing it: the ledger keeps working, notifications wait.
    health.nats = async () => {
      const h = running.health()
      if (h.status === 'degraded') throw new DependencyDegraded(h.reason)
    }
    // Starts in the background: an unreachable NATS never holds up the API.
    running.start()
    stops.unshift(() => running.stop())
  }

  const reconcilerDeps: ReconcilerDeps = { db, pool, store, circle, logger }
  const reconcileOptions: ReconcileOptions = reconcileOptionsOf(config)
  if (roles.includes('reconciler')) {
    const reconciler = new Reconciler(reconcilerDeps, { ...reconcileOptions, intervalMs: config.RECONCILE_INTERVAL, leaseRetryMs: config.LEASE_RETRY_MS })
    reconciler.start()
    stops.unshift(() => reconciler.stop())
  }

  let url: string | undefined
  if (roles.includes('api')) {
    // The projection runner moves every read model's checkpoint in one statement: the first one's stands for all.
    const [readModelGroup] = readModels
    if (readModelGroup === undefined) throw new Error('no read models to wait for')
    const apiKeys = config.API_KEYS ?? developmentApiKeys()
    if (!config.API_KEYS) logger.warn({ keys: DEVELOPMENT_KEYS.map((k) => k.name) }, 'API_KEYS is unset: the documented development keys are accepted')
    const app = await buildApp({
      logger,
      health: {
        ...health,
        // Circle refusing our key or not answering: operations wait, so the service is degraded, not down.
        circle: async () => {
          const problem = await circle.accessProblem()
          return problem ? { status: 'degraded' as const, error: problem } : undefined
        },
      },
      // Admin keys may drive the embedded (development-only) simulator: its URL and control token.
      ...(simulatorUrl && simulatorControlToken ? { healthDetails: { circleSimulatorUrl: simulatorUrl, circleSimulatorControlToken: simulatorControlToken } } : {}),
      store,
      db,
      // With the projections in this process the wait follows them directly; an API-only instance polls their checkpoint.
      readModels: readYourWrites({ store, db, checkpoint: checkpointName(readModelGroup), ...(projections ? { local: projections } : {}) }),
      admission: new Admission({ db, limit: config.ADMISSION_BACKLOG_LIMIT, waitMs: config.ADMISSION_WAIT_MS }),
      metrics,
      circle,
      issuer,
      cardActionWaitMs: config.CARD_ACTION_WAIT_MS,
      apiKeys,
      maxAmount: parseAmount(config.MAX_AMOUNT),
      idempotencyTtlHours: config.IDEMPOTENCY_TTL_HOURS,
      idempotencyLockSeconds: config.IDEMPOTENCY_LOCK_SECONDS,
      maxAddressesPerWallet: config.MAX_DEPOSIT_ADDRESSES_PER_WALLET,
      rateLimit: { max: config.RATE_LIMIT_MAX, windowMs: config.RATE_LIMIT_WINDOW_MS },
      unauthenticatedMax: config.UNAUTHENTICATED_RATE_LIMIT_MAX,
      timeouts: { requestMs: config.HTTP_REQUEST_TIMEOUT_MS, connectionMs: config.HTTP_CONNECTION_TIMEOUT_MS },
      ...(config.TRUST_PROXY === undefined ? {} : { trustProxy: config.TRUST_PROXY }),
      webhooks: {
        verifier: new WebhookVerifier({
          publicKeys: new CirclePublicKeys({ baseUrl: circleUrl, apiKey: config.CIRCLE_API_KEY ?? 'SIMULATOR', timeoutMs: config.CIRCLE_TIMEOUT_MS }),
          certificates: new SnsCertificates({ timeoutMs: config.CIRCLE_TIMEOUT_MS }),
          // The embedded simulator signs SNS envelopes with a test certificate served from its own (http) origin.
          snsTopicArns: config.CIRCLE_SNS_TOPIC_ARNS ?? (simulatorUrl ? [SNS_TOPIC_ARN] : []),
          snsExtraOrigins: simulatorUrl ? [new URL(simulatorUrl).origin] : [],
        }),
        rateLimit: { max: config.WEBHOOK_RATE_LIMIT_MAX, windowMs: 60_000 },
        ...(worker ? { onStored: () => worker.notify() } : {}),
      },
      // The run goes on after the 202; its failure is stored on the run and logged.
      startReconciliation: async () => {
        const { run, finished } = await beginRun(reconcilerDeps, reconcileOptions, 'http')
        finished.catch((err: unknown) => logger.error({ err, runId: run.id }, 'reconciliation run could not be stored'))
        return run
      },
    })
    url = await app.listen({ port: config.PORT, host: config.HOST })
    if (simulatorUrl && simulatorControlToken) await subscribeSimulator(simulatorUrl, simulatorControlToken, app.server.address(), config.SIMULATOR_WEBHOOKS, logger)
    const purge = setInterval(() => void purgeExpiredIdempotencyKeys(db).catch((err: unknown) => logger.warn({ err }, 'idempotency purge failed')), 3_600_000)
    purge.unref()
    stops.unshift(async () => {
      clearInterval(purge)
      await app.close()
    })
  }
  logger.info({ roles, eventStore: store.kind, url }, 'circle-ledger started')

  return {
    url,
    simulatorUrl,
    simulatorControlToken,
    notifier,
    async stop() {
      // Stop accepting first, then drain the workers, then the simulator, then close the pools.
      for (const stop of stops) await stop()
      await store.close()
      await db.destroy()
    },
  }
}

/** Points the embedded simulator's webhooks at this service's own /webhook, so `npm start` shows the whole flow. */
async function subscribeSimulator(simulatorUrl: string, controlToken: string, address: ReturnType<import('node:net').Server['address']>, versions: ('v1' | 'v2')[], logger: Logger): Promise<void> {
  if (!address || typeof address === 'string') return
  const url = `http://127.0.0.1:${address.port}/webhook`
  for (const version of versions) {
    const res = await fetch(`${simulatorUrl}/sim/webhooks`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${controlToken}` },
      body: JSON.stringify({ url, version }),
    })
    if (!res.ok) throw new Error(`the simulator refused the webhook subscription: HTTP ${res.status}`)
    await res.arrayBuffer()
  }
  if (versions.length > 0) logger.info({ url, versions }, 'embedded simulator delivers webhooks to this service')
}
