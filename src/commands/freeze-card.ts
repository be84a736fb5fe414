import { z } from 'zod'
import { card, type CardEvent, type CardFrozen, type CardState } from '../events/card.ts'
import { DomainError } from './errors.ts'
import type { Decider } from './handler.ts'
import { id, requireExisting } from './rules.ts'

export const schema = z.object({ cardId: id, reason: z.string().max(255).optional() })
export type FreezeCard = z.infer<typeof schema>
type State = { card: CardState }

/** Freezing a frozen card changes nothing. */
export function decide(command: FreezeCard, state: State): { card: CardEvent[] } {
  requireExisting(state.card.status, 'card', command.cardId)
  switch (state.card.status) {
    case 'frozen':
      return { card: [] }
    case 'active': {
      const data: CardFrozen['data'] = { cardId: command.cardId }
      if (command.reason !== undefined) data.reason = command.reason
      return { card: [{ type: 'CardFrozen', data }] }
    }
    case 'closed':
      throw new DomainError('card_closed', `card ${command.cardId} is closed`)
    default:
      throw new DomainError('card_not_active', `card ${command.cardId} is ${state.card.status}, not active`)
  }
}

export const freezeCard: Decider<FreezeCard, State> = {
  streams: (c) => ({ card: { type: card, id: c.cardId } }),
  decide,
  correlationId: (c) => c.cardId,
}
