import { z } from 'zod'
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import type { Db } from '../../adapters/postgres/database.ts'
import { schema as discardCommand } from '../../commands/discard-dead-letter.ts'
import { discard, getDeadLetter, listDeadLetters, replay, type DeadLetterRow } from '../../dead-letters/dead-letters.ts'
import type { EventStore } from '../../events/event-store.ts'
import { notFound } from '../errors.ts'
import { commandErrors, idParams, listQuery, pageOf, readErrors } from '../schemas.ts'

export const deadLetterBody = z
  .object({
    id: z.uuid(),
    kind: z.enum(['webhook', 'task']).meta({ description: 'webhook: a Circle notification; task: a process-manager step' }),
    subject: z.string().meta({ description: 'The notification id (v2 notificationId / SNS MessageId), or the operation stream of the task (e.g. redeem-<id>)' }),
    detail: z.string().meta({ description: 'The notification type (transfers, payouts, ...) or the task kind (mint, redeem, card, ...)' }),
    attention: z.string().optional().meta({ description: 'What the operation shows while the task is set aside, e.g. compensation_failed' }),
    error: z.string().meta({ description: 'The last error' }),
    attempts: z.number().int(),
    status: z.enum(['open', 'replayed', 'discarded']),
    resolvedBy: z.string().optional().meta({ description: 'admin:<key name> of the admin who replayed or discarded it' }),
    reason: z.string().optional(),
    resolvedAt: z.string().optional(),
    createdAt: z.string(),
  })
  .meta({ id: 'DeadLetter' })

export function toDeadLetter(row: DeadLetterRow): z.infer<typeof deadLetterBody> {
  return {
    id: row.id,
    kind: row.kind,
    subject: row.subject,
    detail: row.detail,
    ...(row.attention === null ? {} : { attention: row.attention }),
    error: row.error,
    attempts: row.attempts,
    status: row.status,
    ...(row.resolved_by === null ? {} : { resolvedBy: row.resolved_by }),
    ...(row.reason === null ? {} : { reason: row.reason }),
    ...(row.resolved_at === null ? {} : { resolvedAt: row.resolved_at.toISOString() }),
    createdAt: row.created_at.toISOString(),
  }
}

/** The actor recorded on admin actions: the key's configured name. */
const adminActor = (name: string | undefined) => `admin:${name ?? 'unknown'}`

/**
 * Admin: work that kept failing (webhook notifications and process-manager tasks, one store).
 * Replaying puts it back in its queue with a fresh retry budget; discarding closes it with a
 * reason. Each action is an event on `deadletter-{id}` (and clears the operation's attention), so
 * the audit log shows who did what.
 */
export const deadLetterRoutes: FastifyPluginAsyncZod<{ store: EventStore; db: Db }> = async (app, { store, db }) => {
  app.get(
    '/admin/dead-letters',
    {
      config: { roles: [] },
      schema: {
        tags: ['admin'],
        summary: 'Dead letters, newest first',
        querystring: listQuery({
          kind: z.enum(['webhook', 'task']).optional().meta({ description: 'Only webhook notifications or only process-manager tasks' }),
          status: z.enum(['open', 'replayed', 'discarded']).optional(),
        }),
        response: { 200: pageOf(deadLetterBody).describe('A page of dead letters, newest first'), ...readErrors },
      },
    },
    async (request) => {
      const { kind, status, limit, cursor } = request.query
      const page = await listDeadLetters(db, { kind, status }, { limit, cursor })
      return { items: page.items.map(toDeadLetter), nextCursor: page.nextCursor }
    },
  )

  app.get(
    '/admin/dead-letters/:id',
    { config: { roles: [] }, schema: { tags: ['admin'], summary: 'One dead letter', params: idParams, response: { 200: deadLetterBody.describe('The dead letter'), ...readErrors } } },
    async (request) => {
      const row = await getDeadLetter(db, request.params.id)
      if (!row) throw notFound('dead letter', request.params.id)
      return toDeadLetter(row)
    },
  )

  app.post(
    '/admin/dead-letters/:id/replay',
    {
      config: { roles: [] },
      schema: {
        tags: ['admin'],
        summary: 'Put a dead letter back in its queue (once its cause is fixed)',
        params: idParams,
        response: { 200: deadLetterBody.describe('The dead letter after the action'), ...commandErrors, 404: readErrors[404] },
      },
    },
    async (request) => {
      const { id } = request.params
      if (!(await getDeadLetter(db, id))) throw notFound('dead letter', id)
      return toDeadLetter(await replay(store, db, id, adminActor(request.principal?.name), request.id))
    },
  )

  app.post(
    '/admin/dead-letters/:id/discard',
    {
      config: { roles: [] },
      schema: {
        tags: ['admin'],
        summary: 'Close a dead letter without running it again (reason required)',
        params: idParams,
        body: z.strictObject({ reason: discardCommand.shape.reason.meta({ description: 'Why it is discarded; kept in the audit log' }) }),
        response: { 200: deadLetterBody.describe('The dead letter after the action'), ...commandErrors, 404: readErrors[404] },
      },
    },
    async (request) => {
      const { id } = request.params
      if (!(await getDeadLetter(db, id))) throw notFound('dead letter', id)
      return toDeadLetter(await discard(store, db, id, request.body.reason, adminActor(request.principal?.name), request.id))
    },
  )
}
