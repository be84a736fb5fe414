import { z } from 'zod'
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { errorResponse } from '../schemas.ts'

/**
 * One dependency's check: resolves when it is fine, resolves `{status: 'degraded', error}` when the
 * service works around it (operations wait), rejects when the dependency is down.
 */
export type HealthCheck = () => Promise<void | { status: 'degraded'; error: string }>

/**
 * Thrown by a check whose dependency is unavailable without stopping the ledger (NATS: notifications
 * wait in the event store): reported as `degraded`, and health stays 200.
 */
export class DependencyDegraded extends Error {
  override name = 'DependencyDegraded'
}

const state = z.enum(['ok', 'degraded', 'down'])
const check = z.object({
  status: state,
  error: z.string().optional().describe('What failed; shown to auditor and admin keys only (it can name hosts and ports)'),
})
const healthBody = z.object({
  status: state,
  checks: z.record(z.string(), check),
  details: z
    .record(z.string(), z.string())
    .optional()
    .meta({
      description: 'Only for an admin key: operational details such as the embedded Circle simulator’s URL and the token of its control routes',
      example: { circleSimulatorUrl: 'http://127.0.0.1:41234', circleSimulatorControlToken: '3q2x…' },
    }),
})

/** Roles that may read what failed; anyone else sees only ok, degraded or down. */
const DETAIL_ROLES = new Set(['auditor', 'admin'])

/**
 * `GET /health`: open. 200 when nothing is down (`degraded` when the service works around a
 * dependency), 503 when something is down. The error texts go to auditor and admin keys only;
 * admin keys also see `details` (the embedded simulator's URL).
 */
export const healthRoutes: FastifyPluginAsyncZod<{ checks: Record<string, HealthCheck>; timeoutMs?: number; details?: Record<string, string> }> = async (app, opts) => {
  app.get(
    '/health',
    {
      config: { public: true },
      schema: {
        tags: ['health'],
        summary: 'Liveness and dependency checks (ok, degraded or down each; details for auditor and admin keys)',
        response: {
          200: healthBody.describe('Nothing is down (`degraded`: the service works around a dependency)'),
          401: errorResponse('An Authorization header with an unknown key (send a valid key, or none)', [['unauthorized', 'unknown API key: send a valid key, or none on this open route']]),
          503: healthBody.describe('A dependency is down; `checks` names it'),
        },
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
            if (err instanceof DependencyDegraded) result = { status: 'degraded', error: err.message }
            else result = { status: 'down', error: err instanceof Error ? err.message || err.name : 'unavailable' }
          }
          if (!detailed) delete result.error
          return [name, result] as const
        }),
      )
      const statuses = entries.map(([, c]) => c.status)
      const status = statuses.includes('down') ? 'down' : statuses.includes('degraded') ? 'degraded' : 'ok'
      const details = request.principal?.role === 'admin' && opts.details && Object.keys(opts.details).length > 0 ? { details: opts.details } : {}
      return reply.code(status === 'down' ? 503 : 200).send({ status, checks: Object.fromEntries(entries), ...details })
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
