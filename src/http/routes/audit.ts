import { Readable } from 'node:stream'
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { z } from 'zod'
import type { Db } from '../../adapters/postgres/database.ts'
import { positionFits, type EventStore, type RecordedEvent } from '../../events/event-store.ts'
import { auditHead, chainLinks, type AuditRecord } from '../../ledger/audit.ts'
import { GENESIS_HASH } from '../../ledger/canonical.ts'
import { positionKey } from '../../ledger/position-key.ts'
import { verificationMessage, verifyChain } from '../../ledger/verify.ts'
import { HttpError, notFound } from '../errors.ts'
import { accepts, assertOrdered, limit, position } from '../ledger-schemas.ts'
import type { RouteDeps } from '../command-resource-routes.ts'
import { pageSize, readErrors, wholeNumberParam } from '../schemas.ts'

export const auditEventBody = z
  .object({
    position,
    stream: z.string(),
    revision: z.number().int().meta({ description: '0-based revision in its stream' }),
    id: z.uuid(),
    type: z.string().meta({ example: 'MintRequested' }),
    data: z.record(z.string(), z.unknown()).meta({ description: 'The event as recorded; amounts in micro-units (integer strings)' }),
    metadata: z
      .record(z.string(), z.unknown())
      .meta({ description: 'actor (API key name, process-manager, circle-webhook, reconciliation), requestId, idempotencyKey, correlationId, causationId, occurredAt' }),
    recordedAt: z.string().meta({ description: 'When the store committed the event (ISO-8601, milliseconds)' }),
    hash: z.string().nullable().meta({ description: 'Hash of this link of the chain; null while the audit log has not reached it' }),
    prevHash: z.string().nullable(),
  })
  .meta({ id: 'AuditEvent' })

type AuditEventBody = z.infer<typeof auditEventBody>

const toBody = (e: RecordedEvent, link: AuditRecord | undefined): AuditEventBody => ({
  position: e.position,
  stream: e.stream,
  revision: e.revision,
  id: e.id,
  type: e.type,
  data: e.data,
  metadata: e.metadata as unknown as Record<string, unknown>,
  recordedAt: e.recordedAt,
  hash: link?.hash ?? null,
  prevHash: link?.prevHash ?? null,
})

/** Events read from the store per page of an NDJSON answer: memory is bounded by one page. */
const NDJSON_PAGE = 1000

/**
 * The log after `after` up to the head as it was when asked, one JSON document per line, read page by
 * page as the client consumes it (backpressure through the stream), never held whole.
 */
export async function* ndjsonEvents(store: EventStore, db: Db, after: string | undefined, max: number | undefined): AsyncGenerator<string> {
  const head = await store.head()
  if (head === undefined) return
  const headKey = positionKey(head)
  let cursor = after
  let sent = 0
  while (max === undefined || sent < max) {
    const page = await store.readAll({ after: cursor, maxCount: max === undefined ? NDJSON_PAGE : Math.min(NDJSON_PAGE, max - sent) })
    const events = page.events.filter((e) => positionKey(e.position) <= headKey)
    if (events.length === 0) return
    const links = await chainLinks(db, events.map((e) => e.position))
    let chunk = ''
    for (const e of events) chunk += `${JSON.stringify(toBody(e, links.get(e.position)))}\n`
    yield chunk
    sent += events.length
    const last = events.at(-1)
    if (last === undefined || events.length < page.events.length) return
    cursor = last.position
  }
}

/** Revisions are 0-based and stored as PostgreSQL integers. */
const MAX_REVISION = 2 ** 31 - 1

const streamParams = z.object({ stream: z.string().min(1).max(200).regex(/^[A-Za-z0-9:._-]+$/, 'a stream name such as wallet-<id>') })

/** Auditors' view of the event log and its hash chain. */
export const auditRoutes: FastifyPluginAsyncZod<RouteDeps> = async (app, { store, read }) => {
  const db = read.db
  app.get(
    '/audit/streams/:stream',
    {
      config: { roles: ['auditor'] },
      schema: {
        tags: ['audit'],
        summary: "One stream's events in revision order, with their chain links",
        params: streamParams,
        querystring: z.strictObject({
          fromRevision: wholeNumberParam('fromRevision', { min: 0, max: MAX_REVISION, example: 0 }).optional().meta({ description: 'First revision to return (inclusive), 0 by default' }),
          limit: limit(1000, 100),
        }),
        response: {
          200: z
            .object({ stream: z.string(), events: z.array(auditEventBody), nextRevision: z.number().int().nullable().meta({ description: 'fromRevision of the next page; null on the last' }) })
            .describe("A page of the stream's events in revision order"),
          ...readErrors,
        },
      },
    },
    async (request) => {
      const { stream } = request.params
      const from = request.query.fromRevision ?? 0
      const pageSize = request.query.limit
      const events = await store.readStream(stream, { fromRevision: from, maxCount: pageSize + 1 })
      if (events.length === 0 && from === 0) throw notFound('stream', stream)
      const page = events.slice(0, pageSize)
      const links = await chainLinks(db, page.map((e) => e.position))
      const last = page.at(-1)
      return {
        stream,
        events: page.map((e) => toBody(e, links.get(e.position))),
        nextRevision: events.length > pageSize && last !== undefined ? last.revision + 1 : null,
      }
    },
  )

  app.get(
    '/audit/events',
    {
      config: { roles: ['auditor'] },
      schema: {
        tags: ['audit'],
        summary: 'The global event log in position order',
        description:
          'JSON: one page (`limit`, 100 by default, at most 1000) and `next`, the `after` of the next page. ' +
          'With `Accept: application/x-ndjson`: every event after `after` up to the head at the time of the request (or `limit` of them), ' +
          'one AuditEvent per line, streamed page by page.',
        querystring: z.strictObject({
          after: position.optional().meta({ description: 'Exclusive; omitted = from the first event' }),
          limit: pageSize.optional().meta({ description: 'JSON: page size (100 by default, at most 1000). NDJSON: most events to stream (all by default)' }),
        }),
        response: {
          200: z
            .object({ events: z.array(auditEventBody), next: position.nullable().meta({ description: 'after of the next page; null on the last' }) })
            .describe('A page of the log in position order (NDJSON, one event a line, with Accept: application/x-ndjson)'),
          ...readErrors,
        },
      },
    },
    async (request, reply) => {
      const { after, limit: requested } = request.query
      if (after !== undefined && !positionFits(store.kind, after)) {
        const message = `not a position of this event log (${store.kind === 'kurrentdb' ? 'commit/prepare' : 'a decimal number up to 9223372036854775807'})`
        throw new HttpError(400, 'validation_failed', `the request is not valid: ${message}`, { details: [{ field: 'query.after', message }] })
      }
      if (accepts(request.headers.accept, 'application/x-ndjson')) {
        const body = Readable.from(ndjsonEvents(store, db, after, requested), { objectMode: false })
        return reply.type('application/x-ndjson').serializer((x) => x as string).send(body as never)
      }
      const pageSize = Math.min(requested ?? 100, 1000)
      const page = await store.readAll({ after, maxCount: pageSize })
      const links = await chainLinks(db, page.events.map((e) => e.position))
      return { events: page.events.map((e) => toBody(e, links.get(e.position))), next: page.events.length === pageSize ? (page.events.at(-1)?.position ?? null) : null }
    },
  )

  app.get(
    '/audit/verify',
    {
      config: { roles: ['auditor'] },
      schema: {
        tags: ['audit'],
        summary: 'Recompute the hash chain from the event store and compare it with the audit log',
        description: 'Answers 200 either way: `ok: true` with the number of events verified and the last position, or `ok: false` and the first break.',
        querystring: z.strictObject({
          from: position.optional().meta({ description: 'First position to verify (inclusive); the first event by default' }),
          to: position.optional().meta({ description: 'Last position to verify (inclusive); the end of the audit log by default' }),
        }),
        response: {
          200: z
            .object({
              ok: z.boolean(),
              verified: z.number().int(),
              unaudited: z.number().int().meta({ description: 'Events passed over: reconciliation runs recorded before the audit log covered them (they are in no hash)' }),
              position: position.nullable().meta({ description: 'Last position verified' }),
              auditedUpTo: position.nullable().meta({ description: 'How far the audit log reaches; later events are not yet audited' }),
              message: z.string(),
              break: z
                .object({
                  position,
                  kind: z.enum(['data_changed', 'row_missing', 'event_missing', 'hash_mismatch']),
                  message: z.string(),
                  details: z.record(z.string(), z.unknown()),
                })
                .optional(),
            })
            .meta({ id: 'AuditVerification' })
            .describe("The verification's outcome: ok with the count verified, or the first break"),
          ...readErrors,
        },
      },
    },
    async (request) => {
      const { from, to } = request.query
      if (from !== undefined && to !== undefined) assertOrdered({ position: from }, { position: to })
      const result = await verifyChain({ db, store, from, to })
      return { ...result, message: verificationMessage(result) }
    },
  )

  app.get(
    '/audit/head',
    {
      config: { roles: ['auditor'] },
      schema: {
        tags: ['audit'],
        summary: "The chain head: the last audited event's position and hash",
        response: {
          200: z
            .object({
              position: position.nullable().meta({ description: 'null while the log is empty' }),
              hash: z.string().meta({ description: 'Hex SHA-256; 64 zeros while the log is empty' }),
              recordedAt: z.string().nullable(),
            })
            .meta({ id: 'AuditHead' })
            .describe('The chain head'),
          ...readErrors,
        },
      },
    },
    async () => {
      const head = await auditHead(db)
      return head ?? { position: null, hash: GENESIS_HASH, recordedAt: null }
    },
  )
}
