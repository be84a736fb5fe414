import type { FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { HttpError } from '../errors.ts'

/**
 * A route whose schema declares no query takes no query parameter, and one that declares no body
 * takes no body (an empty object `{}` is taken as none). What is sent anyway was meant for
 * something the route does not do: `?at=` on the trial balance would otherwise be answered with
 * today's balances as if they were that moment's, and a body on
 * `POST /admin/dead-letters/{id}/replay` would be dropped unread. 400 `validation_failed`, one
 * detail per parameter (and one for the body), nothing changed.
 *
 * Open routes (`/health`, Circle's `/webhook`, which reads its body itself) and routes hidden from
 * the API document (the document itself, `/docs`, `/metrics`) are left as they are. Registered
 * before the routes: it looks at each route as it is added.
 */
export const undeclaredInputPlugin = fp(async (app) => {
  app.addHook('onRoute', (route) => {
    const schema = route.schema as { querystring?: unknown; body?: unknown; hide?: boolean } | undefined
    if (schema === undefined || schema.hide === true || (route.config as { public?: boolean } | undefined)?.public === true) return
    const noQuery = schema.querystring === undefined
    const noBody = schema.body === undefined
    if (!noQuery && !noBody) return
    const refuseUndeclared = async (request: FastifyRequest): Promise<void> => {
      const details: { field: string; message: string }[] = []
      if (noQuery) {
        for (const key of Object.keys((request.query ?? {}) as object)) details.push({ field: `query.${key}`, message: `${key} is not a parameter of this endpoint, which takes none; remove it` })
      }
      if (noBody && request.body !== undefined) {
        const body = request.body
        // `{}`, which many clients send for a POST without content, says nothing and is taken as none.
        if (body === null || typeof body !== 'object' || Array.isArray(body)) details.push({ field: 'body', message: 'this endpoint takes no body; send none' })
        else for (const key of Object.keys(body)) details.push({ field: `body.${key}`, message: `${key} is not a field of this endpoint, which takes no body; remove it` })
      }
      if (details.length > 0) throw new HttpError(400, 'validation_failed', `the request is not valid: ${details.map((d) => d.message).join('; ')}`, { details })
    }
    route.preValidation = [...hooks(route.preValidation), refuseUndeclared]
  })
})

const hooks = <T>(hook: T | T[] | undefined): T[] => (hook === undefined ? [] : Array.isArray(hook) ? hook : [hook])
