import { randomUUID } from 'node:crypto'
import rateLimit from '@fastify/rate-limit'
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import Fastify, { type FastifyBaseLogger } from 'fastify'
import { jsonSchemaTransform, jsonSchemaTransformObject, serializerCompiler, validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod'
import type { Logger } from 'pino'
import type { CardIssuer } from '../adapters/card-issuer/port.ts'
import type { CirclePort } from '../adapters/circle/port.ts'
import type { Db } from '../adapters/postgres/database.ts'
import type { EventStore } from '../events/event-store.ts'
import type { Metrics } from '../metrics.ts'
import type { Run } from '../reconciliation/runs.ts'
import type { WaitForReadModels } from '../subscriptions/read-your-writes.ts'
import { authPlugin, type ApiKey } from './plugins/auth.ts'
import { errorsPlugin } from './plugins/errors.ts'
import { idempotencyPlugin } from './plugins/idempotency.ts'
import { metricsPlugin } from './plugins/metrics.ts'
import { addressRoutes } from './routes/addresses.ts'
import { bankAccountRoutes } from './routes/bank-accounts.ts'
import { cardRoutes } from './routes/cards.ts'
import { depositRoutes } from './routes/deposits.ts'
import { healthRoutes, type HealthCheck } from './routes/health.ts'
import { mintRoutes } from './routes/mints.ts'
import { reconciliationRoutes } from './routes/reconciliation.ts'
import { redeemRoutes } from './routes/redeems.ts'
import { transferRoutes } from './routes/transfers.ts'
import { walletOperationRoutes } from './routes/wallet-operations.ts'
import { walletRoutes } from './routes/wallets.ts'

export interface AppDeps {
  logger: Logger
  health: Record<string, HealthCheck>
  store: EventStore
  db: Db
  /** Read-your-writes: resolves once the read models include a position a request wrote. */
  readModels: WaitForReadModels
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
    return503OnClosing: true,
    // Slow-loris and stuck sockets: the whole request must arrive in time, and an idle socket is closed.
    // The idle limit stays above the longest answer we hold on purpose (Prefer: wait).
    requestTimeout: deps.timeouts?.requestMs ?? 15_000,
    connectionTimeout: deps.timeouts?.connectionMs ?? 65_000,
    ...(deps.trustProxy === undefined ? {} : { trustProxy: typeof deps.trustProxy === 'number' ? hops(deps.trustProxy) : deps.trustProxy }),
  }).withTypeProvider<ZodTypeProvider>()
  app.setValidatorCompiler(validatorCompiler)
  app.setSerializerCompiler(serializerCompiler)
  app.addHook('onRequest', async (request, reply) => {
    void reply.header('x-request-id', request.id)
  })

  await app.register(errorsPlugin)
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Circle Ledger',
        version: '1.0.0',
        description:
          'Event-sourced ledger running every Circle operation for backendMirror. Amounts are decimal strings in USD (= USDC). ' +
          'Creating POSTs require an Idempotency-Key and answer 202 with the resource; poll its Location or send `Prefer: wait=N`.',
      },
      components: { securitySchemes: { apiKey: { type: 'http', scheme: 'bearer', description: 'API key: Authorization: Bearer <key>' } } },
      security: [{ apiKey: [] }],
    },
    transform: jsonSchemaTransform,
    transformObject: jsonSchemaTransformObject,
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
      message: `rate limit of ${context.max} requests per ${context.after} exceeded`,
    }),
  })
  await app.register(idempotencyPlugin, { db: deps.db, ttlHours: deps.idempotencyTtlHours, ...(deps.idempotencyLockSeconds === undefined ? {} : { inFlightLockSeconds: deps.idempotencyLockSeconds }) })

  await app.register(healthRoutes, { checks: deps.health })
  const { store, maxAmount } = deps
  const routeDeps = { store, read: { db: deps.db, caughtUp: deps.readModels } }
  await app.register(walletRoutes, routeDeps)
  await app.register(walletOperationRoutes, routeDeps)
  await app.register(addressRoutes, { ...routeDeps, maxAddressesPerWallet: deps.maxAddressesPerWallet ?? 20 })
  await app.register(bankAccountRoutes, { ...routeDeps, circle: deps.circle })
  await app.register(mintRoutes(maxAmount), routeDeps)
  await app.register(redeemRoutes(maxAmount), routeDeps)
  await app.register(transferRoutes(maxAmount), routeDeps)
  await app.register(cardRoutes, { ...routeDeps, issuer: deps.issuer, cardActionWaitMs: deps.cardActionWaitMs ?? 5000 })
  await app.register(depositRoutes, routeDeps)
  await app.register(reconciliationRoutes, { db: deps.db, startRun: deps.startReconciliation })
  return app
}

export type App = Awaited<ReturnType<typeof buildApp>>
