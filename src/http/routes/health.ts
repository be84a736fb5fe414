import { z } from 'zod'
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'

export type HealthCheck = () => Promise<void>

/**
 * Thrown by a check whose dependency is unavailable without stopping the ledger (NATS: notifications
 * wait in the event store): reported as `degraded`, and health stays 200.
 */
export class DependencyDegraded extends Error {
  override name = 'DependencyDegraded'
}

const check = z.object({ status: z.enum(['ok', 'degraded', 'failed']), error: z.string().optional() })
const healthBody = z.object({
  status: z.enum(['ok', 'degraded', 'failed']),
  checks: z.record(z.string(), check),
})

/** `GET /health`: open, 200 when every dependency answers (or is only degraded), 503 naming those that do not. */
export const healthRoutes: FastifyPluginAsyncZod<{ checks: Record<string, HealthCheck>; timeoutMs?: number }> = async (app, opts) => {
  app.get(
    '/health',
    {
      config: { public: true },
      schema: {
        tags: ['health'],
        summary: 'Liveness and dependency checks',
        response: { 200: healthBody, 503: healthBody },
      },
    },
    async (_request, reply) => {
      const entries = await Promise.all(
        Object.entries(opts.checks).map(async ([name, run]) => {
          try {
            await withTimeout(run(), opts.timeoutMs ?? 2000)
            return [name, { status: 'ok' as const }] as const
          } catch (err) {
            if (err instanceof DependencyDegraded) return [name, { status: 'degraded' as const, error: err.message }] as const
            return [name, { status: 'failed' as const, error: err instanceof Error ? err.message || err.name : 'unavailable' }] as const
          }
        }),
      )
      const checks = Object.fromEntries(entries)
      const failed = entries.some(([, c]) => c.status === 'failed')
      const degraded = entries.some(([, c]) => c.status === 'degraded')
      return reply.code(failed ? 503 : 200).send({ status: failed ? 'failed' : degraded ? 'degraded' : 'ok', checks })
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
