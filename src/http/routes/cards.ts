import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { closeCard } from '../../commands/close-card.ts'
import { freezeCard } from '../../commands/freeze-card.ts'
import { execute, type Decider } from '../../commands/handler.ts'
import { issueCard } from '../../commands/issue-card.ts'
import { unfreezeCard } from '../../commands/unfreeze-card.ts'
import { card, type CardState } from '../../events/card.ts'
import type { EventStore } from '../../events/event-store.ts'
import { operationRoutes } from '../operation-routes.ts'
import { commandMetadata, create, read, type Resource } from '../operations.ts'
import { commandErrorsFor, failure, id, idParams, type ErrorExample } from '../schemas.ts'
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
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .meta({
    id: 'Card',
    description: 'A virtual card. The full card number never leaves the issuer; we keep the last 4 digits.',
    example: { id: 'c41d7e2a-6b8f-4a09-b3c5-d7e9f1a2b4c6', walletId: '3f0c6d2e-8a4b-4c1d-9e2f-5a6b7c8d9e0f', status: 'active', last4: '4242', expMonth: 11, expYear: 2030, network: 'VISA', createdAt: '2026-11-26T09:30:00.000Z', updatedAt: '2026-11-26T09:30:02.412Z' },
  })

export function toCard(id: string, r: Resource<CardState>): z.infer<typeof cardBody> {
  const s = r.state
  const body: z.infer<typeof cardBody> = { id, walletId: s.walletId!, status: s.status === 'none' ? 'pending' : s.status, createdAt: r.createdAt, updatedAt: r.updatedAt }
  if (s.last4 !== undefined) body.last4 = s.last4
  if (s.expMonth !== undefined) body.expMonth = s.expMonth
  if (s.expYear !== undefined) body.expYear = s.expYear
  if (s.network !== undefined) body.network = s.network
  if (s.failure !== undefined) body.failure = s.failure
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
  type: card,
  create: (store, request, body, cardId) => create(store, issueCard, { cardId, walletId: body.walletId, cardholderName: body.cardholderName }, request, cardId),
  toResponse: toCard,
  settled: (s) => s.status !== 'pending',
  creates: 'resource',
  rules: [['wallet_not_found', 'wallet 3f0c6d2e-8a4b-4c1d-9e2f-5a6b7c8d9e0f does not exist'], ['wallet_not_active', 'wallet 3f0c6d2e-8a4b-4c1d-9e2f-5a6b7c8d9e0f is pending, not active']] satisfies ErrorExample[],
})

/** Virtual cards, issued through the CardIssuer port (Circle has no card issuing). */
export const cardRoutes: FastifyPluginAsyncZod<{ store: EventStore }> = async (app, { store }) => {
  await app.register(issueRoutes, { store })

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
          response: {
            200: cardBody.describe('The card after the action'),
            ...commandErrorsFor([['card_closed', 'card c41d7e2a-6b8f-4a09-b3c5-d7e9f1a2b4c6 is closed'], ['card_not_active', 'card c41d7e2a-6b8f-4a09-b3c5-d7e9f1a2b4c6 is pending, not active'], ['card_not_frozen', 'card c41d7e2a-6b8f-4a09-b3c5-d7e9f1a2b4c6 is active, not frozen']], { notFound: ['not_found', 'card c41d7e2a-6b8f-4a09-b3c5-d7e9f1a2b4c6 not found'] }),
          },
        },
      },
      async (request) => {
        const cardId = request.params.id
        const command = request.body?.reason === undefined ? { cardId } : { cardId, reason: request.body.reason }
        await execute(store, decider, command, commandMetadata(request, randomUUID()))
        return toCard(cardId, (await read(store, card, cardId))!)
      },
    )
  manage('freeze', freezeCard, 'Freeze a card (no-op when already frozen)')
  manage('unfreeze', unfreezeCard, 'Unfreeze a frozen card (no-op when already active)')
  manage('close', closeCard, 'Close a card for good (no-op when already closed)')
}
