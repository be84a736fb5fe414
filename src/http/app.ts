import { randomUUID } from 'node:crypto'
import Fastify, { type FastifyBaseLogger } from 'fastify'
import { serializerCompiler, validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod'
import type { Logger } from 'pino'
import { errorsPlugin } from './plugins/errors.ts'
import { healthRoutes, type HealthCheck } from './routes/health.ts'

export interface AppDeps {
  logger: Logger
  health: Record<string, HealthCheck>
}

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
    bodyLimit: 256 * 1024,
    return503OnClosing: true,
  }).withTypeProvider<ZodTypeProvider>()
  app.setValidatorCompiler(validatorCompiler)
  app.setSerializerCompiler(serializerCompiler)
  app.addHook('onRequest', async (request, reply) => {
    void reply.header('x-request-id', request.id)
  })
  await app.register(errorsPlugin)
  await app.register(healthRoutes, { checks: deps.health })
  return app
}

export type App = Awaited<ReturnType<typeof buildApp>>
