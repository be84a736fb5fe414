import { z } from 'zod'
import { card, type CardClosed, type CardEvent, type CardState } from '../events/card.ts'
import { DomainError } from './errors.ts'
import type { Decider } from './handler.ts'
import { id, requireExisting } from './rules.ts'

export const schema = z.object({ cardId: id, reason: z.string().max(255).optional() })
export type CloseCard = z.infer<typeof schema>
type State = { card: CardState }

/** Closing is final; closing a closed card changes nothing. */
export function decide(command: CloseCard, state: State): { card: CardEvent[] } {
  requireExisting(state.card.status, 'card', command.cardId)
  switch (state.card.status) {
    case 'closed':
      return { card: [] }
    case 'active':
    case 'frozen': {
      const data: CardClosed['data'] = { cardId: command.cardId }
      if (command.reason !== undefined) data.reason = command.reason
      return { card: [{ type: 'CardClosed', data }] }
    }
    default:
      throw new DomainError('card_not_active', `card ${command.cardId} is ${state.card.status}; only an issued card can be closed`)
  }
}

export const closeCard: Decider<CloseCard, State> = {
  streams: (c) => ({ card: { type: card, id: c.cardId } }),
  decide,
  correlationId: (c) => c.cardId,
}
