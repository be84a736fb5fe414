import { randomUUID } from 'node:crypto'
import rateLimit from '@fastify/rate-limit'
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import Fastify, { LogController, type FastifyBaseLogger } from 'fastify'
import { serializerCompiler, validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod'
import type { Logger } from 'pino'
import type { CardIssuer } from '../adapters/card-issuer/port.ts'
import type { CirclePort } from '../adapters/circle/port.ts'
import type { Db } from '../adapters/postgres/database.ts'
import type { EventStore } from '../events/event-store.ts'
import type { Metrics } from '../metrics.ts'
import type { Admission } from '../process-manager/admission.ts'
import type { Run } from '../reconciliation/runs.ts'
import type { WaitForReadModels } from '../subscriptions/read-your-writes.ts'
import { accessLogPlugin } from './plugins/access-log.ts'
import { undeclaredInputPlugin } from './plugins/undeclared-input.ts'
import { storableTextPlugin } from './plugins/storable-text.ts'
import { authPlugin, type ApiKey } from './plugins/auth.ts'
import { clientErrorHandler, errorsPlugin, frameworkErrors, MAX_PARAM_LENGTH } from './plugins/errors.ts'
import { idempotencyPlugin } from './plugins/idempotency.ts'
import { metricsPlugin } from './plugins/metrics.ts'
import { docsTransform, docsTransformObject } from './schemas.ts'
import { parseJsonBody } from './json-body.ts'
import { addressRoutes } from './routes/addresses.ts'
import { auditRoutes } from './routes/audit.ts'
import { bankAccountRoutes } from './routes/bank-accounts.ts'
import { cardRoutes } from './routes/cards.ts'
import { depositRoutes } from './routes/deposits.ts'
import { healthRoutes, type HealthCheck } from './routes/health.ts'
import { journalRoutes } from './routes/journal.ts'
import { mintRoutes } from './routes/mints.ts'
import { reconciliationRoutes } from './routes/reconciliation.ts'
import { redeemRoutes } from './routes/redeems.ts'
import { statementRoutes } from './routes/statements.ts'
import { transferRoutes } from './routes/transfers.ts'
import { walletOperationRoutes } from './routes/wallet-operations.ts'
import { walletRoutes } from './routes/wallets.ts'
import { openCounts } from '../dead-letters/dead-letters.ts'
import { deadLetterRoutes } from './routes/dead-letters.ts'
import { webhookRoutes, type WebhookRouteOptions } from './routes/webhook.ts'

export interface AppDeps {
  logger: Logger
  health: Record<string, HealthCheck>
  /** Shown in /health to admin keys only (e.g. the embedded simulator's URL). */
  healthDetails?: Record<string, string>
  store: EventStore
  db: Db
  /** Read-your-writes: resolves once the read models include a position a request wrote. */
  readModels: WaitForReadModels
  /** Admission control for new operations (process-manager/admission.ts); absent, none. */
  admission?: Pick<Admission, 'admit' | 'saturated'>
  metrics: Metrics
  circle: Pick<CirclePort, 'createWireAccount'>
  /** Card freeze/unfreeze/close are confirmed with the issuer within the request. */
  issuer: CardIssuer
  /** How long a card action waits for the issuer before answering 202 pending (ms). */
  cardActionWaitMs?: number
  apiKeys: ApiKey[]
  /** Largest amount one operation may move, micro-units. */
  maxAmount: bigint
  idempotencyTtlHours: number
  /** Most deposit addresses one wallet may hold (failed ones aside). */
  maxAddressesPerWallet?: number
  /** How long an in-flight Idempotency-Key stays locked without renewal (s). */
  idempotencyLockSeconds?: number
  rateLimit: { max: number; windowMs: number }
  /** Requests without a valid key allowed per source address and window (the window of `rateLimit`). */
  unauthenticatedMax?: number
  /** Fastify's `trustProxy`: which proxies' X-Forwarded-For names the client address (rate limits key on it). */
  trustProxy?: boolean | number | string
  /** Fastify's requestTimeout (whole request received) and connectionTimeout (socket idle), ms. */
  timeouts?: { requestMs: number; connectionMs: number }
  /** Circle webhook intake; without it `/webhook` is not served. */
  webhooks?: Omit<WebhookRouteOptions, 'db' | 'metrics'>
  /** Starts a reconciliation run in the background (POST /admin/reconciliation/runs); absent = 503. */
  startReconciliation?: () => Promise<Run>
}

/** Trust the first `n` proxies in front of us (Fastify's number form, which its types omit). */
const hops = (n: number) => (_address: string, hop: number) => hop < n

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/

/** Builds the HTTP app without listening, ready for `inject()`; main.ts listens. */
export async function buildApp(deps: AppDeps) {
  const app = Fastify({
    loggerInstance: deps.logger as FastifyBaseLogger,
    requestIdHeader: false,
    genReqId: (req) => {
      const given = req.headers['x-request-id']
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID()
    },
    bodyLimit: 64 * 1024,
    // What the router and Node's HTTP parser refuse gets the API's error envelope too.
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
    frameworkErrors,
    clientErrorHandler,
    return503OnClosing: true,
    // Slow-loris and stuck sockets: the whole request must arrive in time, and an idle socket is closed.
    // The idle limit stays above the longest answer we hold on purpose (Prefer: wait).
    requestTimeout: deps.timeouts?.requestMs ?? 15_000,
    connectionTimeout: deps.timeouts?.connectionMs ?? 65_000,
    ...(deps.trustProxy === undefined ? {} : { trustProxy: typeof deps.trustProxy === 'number' ? hops(deps.trustProxy) : deps.trustProxy }),
    // The access-log plugin writes the one line per request.
    logController: new LogController({ disableRequestLogging: true }),
  }).withTypeProvider<ZodTypeProvider>()
  app.setValidatorCompiler(validatorCompiler)
  app.setSerializerCompiler(serializerCompiler)
  app.addHook('onRequest', async (request, reply) => {
    void reply.header('x-request-id', request.id)
  })
  // Bodies are JSON only: a JSON text sent as text/plain is refused with 415 like a missing
  // Content-Type, rather than read as a string. An empty JSON body is no body, so routes whose
  // body is optional accept it and the others say the body is required. parseJsonBody refuses what
  // another reader could take differently (not UTF-8, a key twice).
  app.removeContentTypeParser(['text/plain', 'application/json'])
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, raw, done) => {
    try {
      done(null, parseJsonBody(typeof raw === 'string' ? Buffer.from(raw) : raw, request.headers['content-type']))
    } catch (err) {
      done(err as Error, undefined)
    }
  })

  await app.register(accessLogPlugin)
  await app.register(errorsPlugin)
  await app.register(storableTextPlugin)
  await app.register(undeclaredInputPlugin)
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Circle Ledger',
        version: '1.0.0',
        license: { name: 'Proprietary', identifier: 'LicenseRef-Proprietary' },
        description:
          'Event-sourced ledger running every Circle operation for backendMirror: custodial wallets and deposit addresses, wire bank accounts, ' +
          'USDC mint and redeem, transfers, and virtual cards.\n\n' +
          '- Amounts are decimal strings in USD (= USDC), at most 6 decimals: `"10.50"`.\n' +
          '- Every creating POST needs an `Idempotency-Key`; a replay with the same body returns the original answer.\n' +
          '- Creating POSTs answer **202** with the resource (`status: pending`) and a `Location` to poll; with `Prefer: wait=N` the answer waits ' +
          'up to N seconds (at most 30) and is **201** (a new resource) or **200** (an operation) when it is already terminal.\n' +
          '- Errors are `{"error": {"code", "message", "details"?}, "requestId"}`; each route lists its codes with examples.',
      },
      servers: [{ url: '/', description: 'The service that serves this document (npm start: http://localhost:3000)' }],
      components: {
        securitySchemes: {
          apiKey: {
            type: 'http',
            scheme: 'bearer',
            description:
              'API key: `Authorization: Bearer <key>`. Roles: `backend` (commands and reads), `auditor` (reads, metrics), `admin` (everything). ' +
              'Outside production, when API_KEYS is unset, the development keys `dev-backend-key`, `dev-auditor-key` and `dev-admin-key` work ' +
              '(one per role); production refuses to start without configured keys.',
          },
        },
      },
      security: [{ apiKey: [] }],
    },
    transform: docsTransform,
    transformObject: docsTransformObject,
  })
  await app.register(swaggerUi, { routePrefix: '/docs', uiConfig: { docExpansion: 'list' } })
  app.get('/openapi.json', { config: { public: true }, schema: { hide: true } }, async () => app.swagger())

  await app.register(metricsPlugin, { metrics: deps.metrics })
  await app.register(authPlugin, {
    keys: deps.apiKeys,
    publicPrefixes: ['/docs'],
    unauthenticated: { max: deps.unauthenticatedMax ?? 60, windowMs: deps.rateLimit.windowMs },
  })
  await app.register(rateLimit, {
    global: true,
    max: deps.rateLimit.max,
    timeWindow: deps.rateLimit.windowMs,
    hook: 'preParsing',
    keyGenerator: (request) => request.principal?.name ?? request.ip,
    allowList: (request) => request.routeOptions.config.public === true,
    errorResponseBuilder: (_request, context) => ({
      statusCode: 429,
      code: 'rate_limited',
      message: `rate limit of ${context.max} requests per ${windowText(deps.rateLimit.windowMs)} exceeded for this API key; retry after ${context.after}`,
    }),
  })
  await app.register(idempotencyPlugin, { db: deps.db, ttlHours: deps.idempotencyTtlHours, answersInAppend: deps.store.storesAnswers === true, readModels: deps.readModels, ...(deps.idempotencyLockSeconds === undefined ? {} : { inFlightLockSeconds: deps.idempotencyLockSeconds }) })

  await app.register(healthRoutes, { checks: deps.health, ...(deps.healthDetails ? { details: deps.healthDetails } : {}) })
  const { store, maxAmount } = deps
  const routeDeps = { store, read: { db: deps.db, caughtUp: deps.readModels }, admission: deps.admission }
  await app.register(walletRoutes, routeDeps)
  await app.register(walletOperationRoutes, routeDeps)
  await app.register(addressRoutes, { ...routeDeps, maxAddressesPerWallet: deps.maxAddressesPerWallet ?? 20 })
  await app.register(bankAccountRoutes, { ...routeDeps, circle: deps.circle })
  await app.register(mintRoutes(maxAmount), routeDeps)
  await app.register(redeemRoutes(maxAmount), routeDeps)
  await app.register(transferRoutes(maxAmount), routeDeps)
  await app.register(cardRoutes, { ...routeDeps, issuer: deps.issuer, cardActionWaitMs: deps.cardActionWaitMs ?? 5000 })
  await app.register(depositRoutes, routeDeps)
  await app.register(deadLetterRoutes, { store, db: deps.db })
  deps.metrics.trackOpenDeadLetters(() => openCounts(deps.db))
  if (deps.webhooks) await app.register(webhookRoutes, { ...deps.webhooks, db: deps.db, metrics: deps.metrics })
  await app.register(statementRoutes, routeDeps)
  await app.register(auditRoutes, routeDeps)
  await app.register(journalRoutes, routeDeps)
  await app.register(reconciliationRoutes, { db: deps.db, startRun: deps.startReconciliation })
  return app
}

/** The configured rate-limit window in words: 60000 -> "60 seconds", 1000 -> "1 second". */
export function windowText(ms: number): string {
  if (ms % 1000 !== 0) return `${ms} ms`
  const seconds = ms / 1000
  return seconds === 1 ? '1 second' : `${seconds} seconds`
}

export type App = Awaited<ReturnType<typeof buildApp>>
