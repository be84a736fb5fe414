import { card, type CardEvent, type CardFrozen, type CardState } from '../events/card.ts'
import { decideAction, schema as actionSchema, type CardActionCommand } from './card-action.ts'
import type { Decider, Decision } from './handler.ts'

export const schema = actionSchema
export type FreezeCard = CardActionCommand
type State = { card: CardState }
type Events = { card: CardEvent }

/** Freezing a frozen card changes nothing; `issuer` says whether the issuer confirmed or the freeze is pending. */
function decide(command: FreezeCard, state: State): Decision<Events> {
  return {
    card: decideAction(
      'freeze',
      (c) => {
        const data: CardFrozen['data'] = { cardId: c.cardId }
        if (c.reason !== undefined) data.reason = c.reason
        return { type: 'CardFrozen', data }
      },
      command,
      state.card,
    ),
  }
}

export const freezeCard: Decider<FreezeCard, State, Events> = {
  schema,
  streams: (c) => ({ card: { type: card, id: c.cardId } }),
  decide,
  correlationId: (c) => c.cardId,
}
