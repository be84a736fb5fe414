import { z } from 'zod'
import { card, type CardEvent, type CardState } from '../events/card.ts'
import { DomainError } from './errors.ts'
import type { Decider } from './handler.ts'
import { id, requireExisting } from './rules.ts'

export const schema = z.object({ cardId: id })
export type UnfreezeCard = z.infer<typeof schema>
type State = { card: CardState }

/** Unfreezing an active card changes nothing. */
export function decide(command: UnfreezeCard, state: State): { card: CardEvent[] } {
  requireExisting(state.card.status, 'card', command.cardId)
  switch (state.card.status) {
    case 'active':
      return { card: [] }
    case 'frozen':
      return { card: [{ type: 'CardUnfrozen', data: { cardId: command.cardId } }] }
    case 'closed':
      throw new DomainError('card_closed', `card ${command.cardId} is closed`)
    default:
      throw new DomainError('card_not_frozen', `card ${command.cardId} is ${state.card.status}, not frozen`)
  }
}

export const unfreezeCard: Decider<UnfreezeCard, State> = {
  streams: (c) => ({ card: { type: card, id: c.cardId } }),
  decide,
  correlationId: (c) => c.cardId,
}
