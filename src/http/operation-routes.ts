import type { FastifyRequest } from 'fastify'
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import type { z } from 'zod'
import type { AnyEvent } from '../commands/handler.ts'
import type { EventStore } from '../events/event-store.ts'
import type { StreamType } from '../events/event.ts'
import { notFound } from './errors.ts'
import { answerCreated, derivedId, read, waitIfAsked, type Resource } from './operations.ts'
import { commandErrorsFor, createdResponses, idempotencyHeaders, idParams, readErrors, type ErrorExample } from './schemas.ts'

/** A resource created by an asynchronous command: `POST create` answers 202 pending, `GET read/{id}` reads it. */
export interface OperationResource<S, Body extends z.ZodType, Res extends z.ZodType> {
  tag: string
  /** What a resource of this kind is called in errors and derived ids ("mint"). */
  name: string
  createPath: string
  /** Collection path of the GET and of the Location header ("/mints"). */
  readPath: string
  summaries: { create: string; read: string }
  body: Body
  response: Res
  type: StreamType<S, AnyEvent>
  /** Runs the creating command for the resource with the id derived from the Idempotency-Key. */
  create(store: EventStore, request: FastifyRequest, body: z.output<Body>, id: string): Promise<void>
  toResponse(id: string, resource: Resource<S>): z.output<Res>
  /** When `Prefer: wait` may stop waiting. */
  settled(state: S): boolean
  /** The business rules the POST can refuse with (422), as documented examples: [code, message]. */
  rules?: ErrorExample[]
  /** A new resource answers 201 once settled, an operation 200 (default 'operation'). */
  creates?: 'resource' | 'operation'
}

/** Registers the POST (202 + Location, read-your-writes, `Prefer: wait`) and the GET of one resource. */
export function operationRoutes<S, Body extends z.ZodType, Res extends z.ZodType>(
  def: OperationResource<S, Body, Res>,
): FastifyPluginAsyncZod<{ store: EventStore }> {
  return async (app, { store }) => {
    const reread = (id: string) => read(store, def.type, id)
    // Generic schemas are beyond the type provider's inference; toResponse keeps the answers typed.
    const response: z.ZodType = def.response
    const body: z.ZodType = def.body
    app.post(
      def.createPath,
      {
        config: { roles: ['backend'], idempotent: true },
        schema: { tags: [def.tag], summary: def.summaries.create, headers: idempotencyHeaders, body, response: { ...createdResponses(response, def.creates ?? 'operation'), ...commandErrorsFor(def.rules ?? []) } },
      },
      async (request, reply) => {
        const id = derivedId(request, def.name)
        await def.create(store, request, request.body as z.output<Body>, id)
        const resource = await waitIfAsked(request, (await reread(id))!, () => reread(id), def.settled)
        return answerCreated(request, reply, { terminal: def.settled(resource.state), creates: def.creates ?? 'operation', location: `${def.readPath}/${id}` }).send(def.toResponse(id, resource))
      },
    )
    app.get(
      `${def.readPath}/:id`,
      {
        config: { roles: ['backend', 'auditor'] },
        schema: { tags: [def.tag], summary: def.summaries.read, params: idParams, response: { 200: response.describe(`The ${def.name} as it is now`), ...readErrors } },
      },
      async (request) => {
        const resource = await reread(request.params.id)
        if (!resource) throw notFound(def.name, request.params.id)
        return def.toResponse(request.params.id, resource)
      },
    )
  }
}
