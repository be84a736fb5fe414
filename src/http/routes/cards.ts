import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { randomUUID } from 'node:crypto'
import type { CardIssuer } from '../../adapters/card-issuer/port.ts'
import { UpstreamError } from '../../adapters/upstream-error.ts'
import { alreadyDone, requireActionable, schema as cardActionCommand, type CardActionCommand } from '../../commands/card-action.ts'
import { closeCard } from '../../commands/close-card.ts'
import { DomainError } from '../../commands/errors.ts'
import { freezeCard } from '../../commands/freeze-card.ts'
import { execute, type Decider } from '../../commands/handler.ts'
import { issueCard, schema as issueCardCommand } from '../../commands/issue-card.ts'
import { unfreezeCard } from '../../commands/unfreeze-card.ts'
import { card, type CardAction, type CardState } from '../../events/card.ts'
import { fold } from '../../events/fold.ts'
import { cards } from '../../projections/cards.ts'
import { readDocument } from '../../projections/document.ts'
import { listOperations } from '../../projections/operation-list.ts'
import { notFound } from '../errors.ts'
import { operationRoutes, type RouteDeps } from '../command-resource-routes.ts'
import { commandMetadata, create, stateOf, type Resource } from '../command-requests.ts'
import { attention, commandErrorsFor, failure, idParams, operationFilters, type ErrorExample } from '../schemas.ts'

const cardStatus = z.enum(['pending', 'active', 'frozen', 'closed', 'failed'])

export const cardBody = z
  .object({
    id: z.uuid(),
    walletId: z.uuid(),
    status: cardStatus,
    last4: z.string().optional(),
    expMonth: z.number().int().optional(),
    expYear: z.number().int().optional(),
    network: z.string().optional(),
    failure: failure.optional(),
    pendingAction: z
      .enum(['freeze', 'unfreeze', 'close'])
      .optional()
      .describe('An action the issuer has not confirmed yet; the status changes when it does (a notification follows)'),
    actionFailure: z
      .object({ action: z.enum(['freeze', 'unfreeze', 'close']), failure })
      .optional()
      .describe('The issuer refused the last pending action; the card stayed as it was'),
    attention,
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .meta({
    id: 'Card',
    description: 'A virtual card. The full card number never leaves the issuer; we keep the last 4 digits.',
    example: { id: 'c41d7e2a-6b8f-4a09-b3c5-d7e9f1a2b4c6', walletId: '3f0c6d2e-8a4b-4c1d-9e2f-5a6b7c8d9e0f', status: 'active', last4: '4242', expMonth: 11, expYear: 2030, network: 'VISA', createdAt: '2026-11-26T09:30:00.000Z', updatedAt: '2026-11-26T09:30:02.412Z' },
  })

export function toCard(id: string, r: Resource<CardState>): z.infer<typeof cardBody> {
  const s = stateOf('card', id, r)
  const body: z.infer<typeof cardBody> = { id, walletId: s.walletId, status: s.status, createdAt: r.createdAt, updatedAt: r.updatedAt }
  if (s.last4 !== undefined) body.last4 = s.last4
  if (s.expMonth !== undefined) body.expMonth = s.expMonth
  if (s.expYear !== undefined) body.expYear = s.expYear
  if (s.network !== undefined) body.network = s.network
  if (s.failure !== undefined) body.failure = s.failure
  if (s.pendingAction !== undefined) body.pendingAction = s.pendingAction
  if (s.actionFailure !== undefined) body.actionFailure = s.actionFailure
  if (s.attention !== undefined) body.attention = s.attention
  return body
}

const reasonBody = cardActionCommand.pick({ reason: true }).strict().nullish()

const issueRoutes = operationRoutes({
  tag: 'cards',
  name: 'card',
  createPath: '/cards',
  readPath: '/cards',
  summaries: { create: 'Issue a virtual card for a wallet', read: 'A card and its status' },
  body: issueCardCommand.pick({ walletId: true }).extend({ cardholderName: issueCardCommand.shape.cardholderName.meta({ example: 'Ada Lovelace' }) }).strict(),
  response: cardBody,
  model: cards,
  create: (store, request, body, cardId) => create(store, issueCard, { cardId, walletId: body.walletId, cardholderName: body.cardholderName }, request, cardId),
  toResponse: toCard,
  settled: (s) => s.status !== 'pending',
  creates: 'resource',
  rules: [['wallet_not_found', 'wallet 3f0c6d2e-8a4b-4c1d-9e2f-5a6b7c8d9e0f does not exist'], ['wallet_not_active', 'wallet 3f0c6d2e-8a4b-4c1d-9e2f-5a6b7c8d9e0f is pending, not active']] satisfies ErrorExample[],
  list: { summary: 'Cards, newest first', filters: operationFilters(cardStatus), run: (db, filters, page) => listOperations(db, cards, filters, page) },
})

/**
 * Virtual cards, issued through the CardIssuer port (Circle has no card issuing). Freeze, unfreeze
 * and close ask the issuer within the request: 200 with the new status once it confirmed; 202 with
 * `pendingAction` when it did not answer within `cardActionWaitMs` (the process manager keeps
 * trying); 422 `card_issuer_refused` with its reason when it said no, and nothing is recorded.
 */
export const cardRoutes: FastifyPluginAsyncZod<RouteDeps & { issuer: CardIssuer; cardActionWaitMs: number }> = async (app, { store, read, issuer, cardActionWaitMs }) => {
  await app.register(issueRoutes, { store, read })

  const readCard = async (cardId: string) => {
    await read.caughtUp()
    const resource = await readDocument(read.db, cards, cardId)
    if (!resource) throw notFound('card', cardId)
    return resource
  }

  const manage = (action: CardAction, decider: Decider<CardActionCommand, { card: CardState }>, summary: string) =>
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
            200: cardBody.describe('The issuer confirmed (or the card already was so)'),
            202: cardBody.describe('The issuer did not confirm in time: `pendingAction` is set and the process manager keeps trying'),
            ...commandErrorsFor(
              [
                ['card_closed', 'card c41d7e2a-6b8f-4a09-b3c5-d7e9f1a2b4c6 is closed'],
                ['card_not_active', 'card c41d7e2a-6b8f-4a09-b3c5-d7e9f1a2b4c6 is pending, not active'],
                ['card_not_frozen', 'card c41d7e2a-6b8f-4a09-b3c5-d7e9f1a2b4c6 is active, not frozen'],
                ['card_issuer_refused', 'the card issuer refused to freeze card c41d7e2a-6b8f-4a09-b3c5-d7e9f1a2b4c6: card is lost'],
              ],
              { notFound: ['not_found', 'card c41d7e2a-6b8f-4a09-b3c5-d7e9f1a2b4c6 not found'] },
            ),
          },
        },
      },
      async (request, reply) => {
        const cardId = request.params.id
        // What the card is now is a write-side question: its stream decides, not the read model.
        const current = await fold(store, card, cardId)
        if (current.revision < 0) throw notFound('card', cardId)
        requireActionable(action, cardId, current.state)
        if (alreadyDone(action, current.state) || current.state.status === 'closed') return reply.code(200).send(toCard(cardId, await readCard(cardId)))
        let outcome: CardActionCommand['issuer']
        try {
          await issuer[action](current.state.issuerCardId, { waitMs: cardActionWaitMs })
          outcome = 'confirmed'
        } catch (err) {
          if (err instanceof UpstreamError && err.refusal) {
            throw new DomainError('card_issuer_refused', `the card issuer refused to ${action} card ${cardId}: ${err.message}`, { issuerCode: String(err.code) })
          }
          request.log.warn({ err, cardId, action }, 'the card issuer did not confirm in time; the action stays pending')
          outcome = 'pending'
        }
        const command: CardActionCommand = { cardId, issuer: outcome, ...(request.body?.reason === undefined ? {} : { reason: request.body.reason }) }
        const { position } = await execute(store, decider, command, commandMetadata(request, randomUUID()))
        await read.caughtUp(position)
        const after = await readCard(cardId)
        return reply
          .code(outcome === 'confirmed' ? 200 : 202)
          .header('location', `/cards/${cardId}`)
          .send(toCard(cardId, after))
      },
    )
  manage('freeze', freezeCard, 'Freeze a card at the issuer (no-op when already frozen)')
  manage('unfreeze', unfreezeCard, 'Unfreeze a frozen card at the issuer (no-op when already active)')
  manage('close', closeCard, 'Close a card for good at the issuer (no-op when already closed)')
}
