import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { closeCard } from '../../commands/close-card.ts'
import { freezeCard } from '../../commands/freeze-card.ts'
import { execute, type Decider } from '../../commands/handler.ts'
import { issueCard } from '../../commands/issue-card.ts'
import { unfreezeCard } from '../../commands/unfreeze-card.ts'
import type { CardState } from '../../events/card.ts'
import { cards } from '../../projections/cards.ts'
import { readDocument } from '../../projections/document.ts'
import { listOperations } from '../../projections/operation-list.ts'
import { notFound } from '../errors.ts'
import { operationRoutes, type RouteDeps } from '../operation-routes.ts'
import { commandMetadata, create, type Resource } from '../operations.ts'
import { attention, commandErrors, errorBody, failure, id, idParams, operationFilters } from '../schemas.ts'
import { randomUUID } from 'node:crypto'

export const cardBody = z
  .object({
    id: z.uuid(),
    walletId: z.uuid(),
    status: z.enum(['pending', 'active', 'frozen', 'closed', 'failed']),
    last4: z.string().optional(),
    expMonth: z.number().int().optional(),
    expYear: z.number().int().optional(),
    network: z.string().optional(),
    failure: failure.optional(),
    attention,
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .meta({ id: 'Card', description: 'A virtual card. The full card number never leaves the issuer; we keep the last 4 digits.' })

export function toCard(id: string, r: Resource<CardState>): z.infer<typeof cardBody> {
  const s = r.state
  const body: z.infer<typeof cardBody> = { id, walletId: s.walletId!, status: s.status === 'none' ? 'pending' : s.status, createdAt: r.createdAt, updatedAt: r.updatedAt }
  if (s.last4 !== undefined) body.last4 = s.last4
  if (s.expMonth !== undefined) body.expMonth = s.expMonth
  if (s.expYear !== undefined) body.expYear = s.expYear
  if (s.network !== undefined) body.network = s.network
  if (s.failure !== undefined) body.failure = s.failure
  if (s.attention !== undefined) body.attention = s.attention
  return body
}

const reasonBody = z.strictObject({ reason: z.string().max(255).optional() }).nullish()

const issueRoutes = operationRoutes({
  tag: 'cards',
  name: 'card',
  createPath: '/cards',
  readPath: '/cards',
  summaries: { create: 'Issue a virtual card for a wallet', read: 'A card and its status' },
  body: z.strictObject({ walletId: id, cardholderName: z.string().min(1).max(100).meta({ example: 'Ada Lovelace' }) }),
  response: cardBody,
  model: cards,
  create: (store, request, body, cardId) => create(store, issueCard, { cardId, walletId: body.walletId, cardholderName: body.cardholderName }, request, cardId),
  toResponse: toCard,
  settled: (s) => s.status !== 'pending',
  list: { summary: 'Cards, newest first', filters: operationFilters, run: (db, filters, page) => listOperations(db, cards, filters, page) },
})

/** Virtual cards, issued through the CardIssuer port (Circle has no card issuing). */
export const cardRoutes: FastifyPluginAsyncZod<RouteDeps> = async (app, { store, read }) => {
  await app.register(issueRoutes, { store, read })

  const manage = (action: 'freeze' | 'unfreeze' | 'close', decider: Decider<{ cardId: string; reason?: string }, { card: CardState }>, summary: string) =>
    app.post(
      `/cards/:id/${action}`,
      {
        config: { roles: ['backend'] },
        schema: {
          tags: ['cards'],
          summary,
          params: idParams,
          body: reasonBody,
          response: { 200: cardBody, ...commandErrors, 404: errorBody.describe("Not found") },
        },
      },
      async (request) => {
        const cardId = request.params.id
        const command = request.body?.reason === undefined ? { cardId } : { cardId, reason: request.body.reason }
        const { position } = await execute(store, decider, command, commandMetadata(request, randomUUID()))
        await read.caughtUp(position)
        const resource = await readDocument(read.db, cards, cardId)
        if (!resource) throw notFound('card', cardId)
        return toCard(cardId, resource)
      },
    )
  manage('freeze', freezeCard, 'Freeze a card (no-op when already frozen)')
  manage('unfreeze', unfreezeCard, 'Unfreeze a frozen card (no-op when already active)')
  manage('close', closeCard, 'Close a card for good (no-op when already closed)')
}
