import { z } from 'zod'
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { errorResponse } from '../schemas.ts'

export type HealthCheck = () => Promise<void>

const check = z.object({ status: z.enum(['ok', 'failed']), error: z.string().optional() })
const healthBody = z.object({
  status: z.enum(['ok', 'failed']),
  checks: z.record(z.string(), check),
  details: z
    .record(z.string(), z.string())
    .optional()
    .meta({ description: 'Only for an admin key: operational details such as the embedded Circle simulator’s URL', example: { circleSimulatorUrl: 'http://127.0.0.1:41234' } }),
})

/** `GET /health`: open, 200 when every dependency answers, 503 naming those that do not. */
export const healthRoutes: FastifyPluginAsyncZod<{ checks: Record<string, HealthCheck>; timeoutMs?: number; details?: Record<string, string> }> = async (app, opts) => {
  app.get(
    '/health',
    {
      config: { public: true },
      schema: {
        tags: ['health'],
        summary: 'Liveness and dependency checks',
        response: {
          200: healthBody.describe('Every dependency answers'),
          401: errorResponse('An Authorization header with an unknown key (send a valid key, or none)', [['unauthorized', 'unknown API key: send a valid key, or none on this open route']]),
          503: healthBody.describe('A dependency does not answer; `checks` names it'),
        },
      },
    },
    async (request, reply) => {
      const entries = await Promise.all(
        Object.entries(opts.checks).map(async ([name, run]) => {
          try {
            await withTimeout(run(), opts.timeoutMs ?? 2000)
            return [name, { status: 'ok' as const }] as const
          } catch (err) {
            return [name, { status: 'failed' as const, error: err instanceof Error ? err.message || err.name : 'unavailable' }] as const
          }
        }),
      )
      const checks = Object.fromEntries(entries)
      const ok = entries.every(([, c]) => c.status === 'ok')
      const details = request.principal?.role === 'admin' && opts.details && Object.keys(opts.details).length > 0 ? { details: opts.details } : {}
      return reply.code(ok ? 200 : 503).send({ status: ok ? 'ok' : 'failed', checks, ...details })
    },
  )
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms)
    promise.then(
      (v) => (clearTimeout(timer), resolve(v)),
      (e: unknown) => (clearTimeout(timer), reject(e instanceof Error ? e : new Error(String(e)))),
    )
  })
}
