import fp from 'fastify-plugin'

declare module 'fastify' {
  interface FastifyRequest {
    /** The error code answered, for the access-log line. */
    errorCode?: string
  }
}

/**
 * One access-log line per request, written when the answer is sent (Fastify's own pair of
 * "incoming request" / "request completed" lines is turned off): method, route, status, duration,
 * caller and, for an error, its code. Health checks log at debug so probes do not drown the log.
 */
export const accessLogPlugin = fp(async (app) => {
  app.decorateRequest('errorCode', undefined)
  app.addHook('onResponse', async (request, reply) => {
    const line: Record<string, unknown> = {
      method: request.method,
      url: request.url,
      route: request.routeOptions.url ?? 'unmatched',
      status: reply.statusCode,
      durationMs: Math.round(reply.elapsedTime * 10) / 10,
    }
    if (request.principal) line.caller = request.principal.name
    if (request.errorCode) line.errorCode = request.errorCode
    const level = request.routeOptions.url === '/health' ? 'debug' : reply.statusCode >= 500 ? 'error' : 'info'
    request.log[level](line, `${request.method} ${request.routeOptions.url ?? request.url} ${reply.statusCode}`)
  })
})
