import { z } from 'zod'
import { card, type CardEvent, type CardState, type CardStatusChanged } from '../events/card.ts'
import { closeCard } from './close-card.ts'
import { freezeCard } from './freeze-card.ts'
import { unfreezeCard } from './unfreeze-card.ts'
import { DomainError } from './errors.ts'
import type { Decider, Decision } from './handler.ts'
import { failure, id, requireExisting } from './rules.ts'

export const schema = z.object({
  cardId: id,
  outcome: z.discriminatedUnion('type', [
    z.object({
      type: z.literal('issued'),
      issuerCardId: z.string().min(1).max(64),
      last4: z.string().regex(/^[0-9]{4}$/),
      expMonth: z.number().int().min(1).max(12),
      expYear: z.number().int().min(2000).max(2100),
      network: z.string().min(1).max(32),
    }),
    z.object({ type: z.literal('failed'), failure }),
    z.object({ type: z.literal('status_changed'), status: z.enum(['active', 'frozen', 'closed']), reason: z.string().max(255).optional() }),
    /** The issuer confirmed a pending action (the process manager's retry got through). */
    z.object({ type: z.literal('action_confirmed'), action: z.enum(['freeze', 'unfreeze', 'close']) }),
    /** The issuer refused a pending action. */
    z.object({ type: z.literal('action_failed'), action: z.enum(['freeze', 'unfreeze', 'close']), failure }),
  ]),
})
export type RecordCardOutcome = z.infer<typeof schema>
type State = { card: CardState }
type Events = { card: CardEvent }

function decide(command: RecordCardOutcome, state: State): Decision<Events> {
  const { cardId, outcome } = command
  const s = state.card
  requireExisting(s.status, 'card', cardId)
  const conflict = () => new DomainError('outcome_conflict', `card ${cardId} is ${s.status}; ${outcome.type} contradicts it`)
  switch (outcome.type) {
    case 'issued': {
      if (s.status === 'pending') {
        const { issuerCardId, last4, expMonth, expYear, network } = outcome
        return { card: [{ type: 'CardIssued', data: { cardId, issuerCardId, last4, expMonth, expYear, network } }] }
      }
      if (s.issuerCardId === outcome.issuerCardId) return { card: [] }
      throw conflict()
    }
    case 'failed':
      if (s.status === 'failed') return { card: [] }
      if (s.status !== 'pending') throw conflict()
      return { card: [{ type: 'CardIssueFailed', data: { cardId, failure: outcome.failure } }] }
    case 'status_changed': {
      if (s.status === outcome.status) return { card: [] }
      if (s.status === 'pending') throw new DomainError('invalid_transition', `card ${cardId} has not been issued yet`)
      if (s.status === 'closed' || s.status === 'failed') throw conflict()
      const data: CardStatusChanged['data'] = { cardId, status: outcome.status }
      if (outcome.reason !== undefined) data.reason = outcome.reason
      return { card: [{ type: 'CardStatusChanged', data }] }
    }
    case 'action_confirmed': {
      // Only the action still pending lands; one superseded by a later request or already confirmed appends nothing.
      if (s.pendingAction !== outcome.action) return { card: [] }
      const confirmed = { cardId, issuer: 'confirmed' as const, ...(s.pendingReason === undefined ? {} : { reason: s.pendingReason }) }
      const decider = { freeze: freezeCard, unfreeze: unfreezeCard, close: closeCard }[outcome.action]
      return decider.decide(confirmed, { card: s })
    }
    case 'action_failed':
      if (s.pendingAction !== outcome.action) return { card: [] }
      return { card: [{ type: 'CardActionFailed', data: { cardId, action: outcome.action, failure: outcome.failure } }] }
  }
}

export const recordCardOutcome: Decider<RecordCardOutcome, State, Events> = {
  schema,
  streams: (c) => ({ card: { type: card, id: c.cardId } }),
  decide,
  correlationId: (c) => c.cardId,
}
