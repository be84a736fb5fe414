/**
 * The routes of a resource that an asynchronous command creates (operationRoutes: its POST, its GET
 * and its list), and what every route is given (RouteDeps).
 */
import type { FastifyRequest } from 'fastify'
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { z } from 'zod'
import type { Db } from '../adapters/postgres/database.ts'
import { DomainError } from '../commands/errors.ts'
import { IdempotencyKeyTaken, type EventStore, type Position, type StreamAppend } from '../events/event-store.ts'
import type { AnyEvent } from '../events/fold.ts'
import { readDocument, type DocumentModel } from '../projections/document.ts'
import type { Page } from '../projections/pagination.ts'
import { BacklogFull, type Admission } from '../process-manager/admission.ts'
import type { WaitForReadModels } from '../subscriptions/read-your-writes.ts'
import { HttpError, notFound } from './errors.ts'
import { answerCreated, createdStatus, derivedId, waitIfAsked, type Resource } from './command-requests.ts'
import { commandErrorsFor, createdResponses, idempotencyHeaders, idParams, listQuery, pageOf, readErrors, type ErrorExample } from './schemas.ts'

/** What routes need of the read side: the read models' database and the read-your-writes wait. */
export interface ReadSide {
  db: Db
  caughtUp: WaitForReadModels
}

export interface RouteDeps {
  store: EventStore
  read: ReadSide
  /** Holds new operations while the process manager is behind (see process-manager/admission.ts); absent, every one goes ahead. */
  admission?: Pick<Admission, 'admit' | 'saturated'> | undefined
}

/** A list route: its filters (beside `limit` and `cursor`) and the query that serves a page. */
export interface ListDefinition<S, Q extends z.ZodRawShape> {
  summary: string
  filters: Q
  run(db: Db, filters: z.output<z.ZodObject<Q>>, page: { limit?: number | undefined; cursor?: string | undefined }): Promise<Page<{ id: string; resource: Resource<S> }>>
}

/** A resource created by an asynchronous command: `POST create` answers 202 pending, `GET read/{id}` reads it. */
export interface OperationResource<S, Body extends z.ZodType, Res extends z.ZodType, Q extends z.ZodRawShape> {
  tag: string
  /** What a resource of this kind is called in errors and derived ids ("mint"). */
  name: string
  createPath: string
  /** Collection path of the GET, the list and the Location header ("/mints"). */
  readPath: string
  summaries: { create: string; read: string }
  body: Body
  response: Res
  model: DocumentModel<S, AnyEvent>
  /** Runs the creating command for the resource with the id derived from the Idempotency-Key; gives the position written. */
  create(store: EventStore, request: FastifyRequest, body: z.output<Body>, id: string): Promise<Position | undefined>
  toResponse(id: string, resource: Resource<S>): z.output<Res>
  /** When `Prefer: wait` may stop waiting. */
  settled(state: S): boolean
  /** The business rules the POST can refuse with (422), as documented examples: [code, message]. */
  rules?: ErrorExample[]
  /** A new resource answers 201 once settled, an operation 200 (default 'operation'). */
  creates?: 'resource' | 'operation'
  list?: ListDefinition<S, Q>
}

/** Registers the POST (202 + Location, read-your-writes, `Prefer: wait`), the GET of one resource, and its list. */
export function operationRoutes<S, Body extends z.ZodType, Res extends z.ZodType, Q extends z.ZodRawShape>(
  def: OperationResource<S, Body, Res, Q>,
): FastifyPluginAsyncZod<RouteDeps> {
  return async (app, { store, read, admission }) => {
    const reread = (id: string) => readDocument(read.db, def.model, id)
    // Generic schemas are beyond the type provider's inference; toResponse keeps the answers typed.
    const response: z.ZodType = def.response
    const body: z.ZodType = def.body
    app.post(
      def.createPath,
      {
        config: { roles: ['backend'], idempotent: true, answerInAppend: true },
        schema: { tags: [def.tag], summary: def.summaries.create, headers: idempotencyHeaders, body, response: { ...createdResponses(response, def.creates ?? 'operation'), ...commandErrorsFor(def.rules ?? []) } },
      },
      async (request, reply) => {
        const id = derivedId(request, def.name)
        const location = `${def.readPath}/${id}`
        const held = request.idempotency!
        const inAppend = held.inAppend
        // One commit: the answer is the new resource as its own events make it, stored with them.
        let answer: { terminal: boolean; body: string } | undefined
        if (inAppend) {
          inAppend.answer = (appends: StreamAppend[]) => {
            const events = appends.find((a) => a.stream === def.model.type.streamName(id))?.events ?? []
            const state = events.reduce((s, e) => def.model.type.evolve(s, e as AnyEvent), def.model.type.initialState)
            const resource = { state, createdAt: events[0]?.metadata.occurredAt ?? '', updatedAt: events.at(-1)?.metadata.occurredAt ?? '' }
            const terminal = def.settled(state)
            answer = { terminal, body: JSON.stringify(z.encode(response, def.toResponse(id, resource))) }
            return { principal: held.principal, key: held.key, requestHash: held.hash, status: createdStatus(terminal, def.creates ?? 'operation'), body: answer.body, headers: { location }, ttlHours: inAppend.ttlHours }
          }
        }
        // A retry is answered without waiting for room: when new work would wait, the key is looked at first.
        if (inAppend && admission && (await admission.saturated()) && (await inAppend.replay(reply))) return reply
        let position: Position | undefined
        for (let attempt = 1; ; attempt++) {
          try {
            // New work waits here while the process manager is behind.
            if (attempt === 1) await admission?.admit()
            position = await def.create(store, request, request.body as z.output<Body>, id)
            break
          } catch (err) {
            // Nothing was written. The key was not looked up before the command (see AnswerInAppend): if it
            // holds an answer already (a retry, a concurrent duplicate, the key reused), that answer comes first.
            if (!inAppend || !(err instanceof IdempotencyKeyTaken || err instanceof DomainError || err instanceof HttpError || err instanceof BacklogFull)) throw err
            if (await inAppend.replay(reply)) return reply
            if (!(err instanceof IdempotencyKeyTaken)) throw err
            // The key's row was gone, or abandoned and removed, by the time it was read: the key is free now.
            if (attempt === 1) continue
            throw new HttpError(409, 'idempotency_key_in_use', 'the Idempotency-Key is contended; retry shortly')
          }
        }
        if (inAppend?.stored && answer) {
          await read.caughtUp(position)
          return answerCreated(request, reply, { terminal: answer.terminal, creates: def.creates ?? 'operation', location }).type('application/json; charset=utf-8').send(answer.body)
        }
        // The resource existed already (this request, or its duplicate, ran before): its stored answer, if any.
        if (inAppend && (await inAppend.replay(reply))) return reply
        await read.caughtUp(position)
        const created = await reread(id)
        if (!created) throw notFound(def.name, id)
        const resource = await waitIfAsked(request, created, () => reread(id), def.settled)
        return answerCreated(request, reply, { terminal: def.settled(resource.state), creates: def.creates ?? 'operation', location }).send(def.toResponse(id, resource))
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
    const list = def.list
    if (list) {
      const query = listQuery(list.filters)
      app.get(
        def.readPath,
        {
          config: { roles: ['backend', 'auditor'] },
          schema: { tags: [def.tag], summary: list.summary, querystring: query, response: { 200: pageOf(response).describe(`A page of ${def.tag}, newest first`), ...readErrors } },
        },
        async (request) => {
          const { limit, cursor, ...filters } = request.query as { limit?: number; cursor?: string } & z.output<z.ZodObject<Q>>
          const page = await list.run(read.db, filters as z.output<z.ZodObject<Q>>, { limit, cursor })
          return { items: page.items.map((i) => def.toResponse(i.id, i.resource)), nextCursor: page.nextCursor }
        },
      )
    }
  }
}
