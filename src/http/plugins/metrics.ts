import fp from 'fastify-plugin'
import type { Metrics } from '../../metrics.ts'

/** Counts and times every request by route pattern (not raw URL, so ids do not explode the labels). */
declare module 'fastify' {
  interface FastifyInstance {
    /** The process's metrics, for routes that record business metrics (operation steps). */
    metrics: Metrics
  }
}

export const metricsPlugin = fp<{ metrics: Metrics }>(async (app, { metrics }) => {
  app.decorate('metrics', metrics)
  app.addHook('onResponse', async (request, reply) => {
    const labels = { route: request.routeOptions.url ?? 'unmatched', method: request.method, status: String(reply.statusCode) }
    metrics.httpRequests.inc(labels)
    metrics.httpDuration.observe(labels, reply.elapsedTime / 1000)
  })
  app.get(
    '/metrics',
    { config: { roles: ['auditor'] }, schema: { hide: true } },
    async (_request, reply) => reply.type(metrics.registry.contentType).send(await metrics.registry.metrics()),
  )
})
