import { z } from 'zod'
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'

/**
 * One dependency's check: resolves when it is fine, resolves `{status: 'degraded', error}` when the
 * service works around it (operations wait), rejects when the dependency is down.
 */
export type HealthCheck = () => Promise<void | { status: 'degraded'; error: string }>

const state = z.enum(['ok', 'degraded', 'down'])
const check = z.object({
  status: state,
  error: z.string().optional().describe('What failed; shown to auditor and admin keys only (it can name hosts and ports)'),
})
const healthBody = z.object({
  status: state,
  checks: z.record(z.string(), check),
})

/** Roles that may read what failed; anyone else sees only ok, degraded or down. */
const DETAIL_ROLES = new Set(['auditor', 'admin'])

/**
 * `GET /health`: open. 200 when nothing is down (`degraded` when the service works around a
 * dependency), 503 when something is down. The error texts go to auditor and admin keys only.
 */
export const healthRoutes: FastifyPluginAsyncZod<{ checks: Record<string, HealthCheck>; timeoutMs?: number }> = async (app, opts) => {
  app.get(
    '/health',
    {
      config: { public: true },
      schema: {
        tags: ['health'],
        summary: 'Liveness and dependency checks (ok, degraded or down each; details for auditor and admin keys)',
        response: { 200: healthBody, 503: healthBody },
      },
    },
    async (request, reply) => {
      const detailed = request.principal !== undefined && DETAIL_ROLES.has(request.principal.role)
      const entries = await Promise.all(
        Object.entries(opts.checks).map(async ([name, run]) => {
          let result: z.infer<typeof check>
          try {
            const outcome = await withTimeout(run(), opts.timeoutMs ?? 2000)
            result = outcome ? { status: 'degraded', error: outcome.error } : { status: 'ok' }
          } catch (err) {
            result = { status: 'down', error: err instanceof Error ? err.message || err.name : 'unavailable' }
          }
          if (!detailed) delete result.error
          return [name, result] as const
        }),
      )
      const statuses = entries.map(([, c]) => c.status)
      const status = statuses.includes('down') ? 'down' : statuses.includes('degraded') ? 'degraded' : 'ok'
      return reply.code(status === 'down' ? 503 : 200).send({ status, checks: Object.fromEntries(entries) })
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
