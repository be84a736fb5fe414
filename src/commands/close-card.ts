import { card, type CardClosed, type CardEvent, type CardState } from '../events/card.ts'
import { decideAction, schema as actionSchema, type CardActionCommand } from './card-action.ts'
import type { Decider, Decision } from './handler.ts'

export const schema = actionSchema
export type CloseCard = CardActionCommand
type State = { card: CardState }
type Events = { card: CardEvent }

/** Closing is final; closing a closed card changes nothing. `issuer` says whether the issuer confirmed or the close is pending. */
function decide(command: CloseCard, state: State): Decision<Events> {
  return {
    card: decideAction(
      'close',
      (c) => {
        const data: CardClosed['data'] = { cardId: c.cardId }
        if (c.reason !== undefined) data.reason = c.reason
        return { type: 'CardClosed', data }
      },
      command,
      state.card,
    ),
  }
}

export const closeCard: Decider<CloseCard, State, Events> = {
  schema,
  streams: (c) => ({ card: { type: card, id: c.cardId } }),
  decide,
  correlationId: (c) => c.cardId,
}
