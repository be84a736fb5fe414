import { card, type CardEvent, type CardState } from '../events/card.ts'
import { decideAction, schema as actionSchema, type CardActionCommand } from './card-action.ts'
import type { Decider, Decision } from './handler.ts'

export const schema = actionSchema
export type UnfreezeCard = CardActionCommand
type State = { card: CardState }
type Events = { card: CardEvent }

/** Unfreezing an active card changes nothing; `issuer` says whether the issuer confirmed or the unfreeze is pending. */
function decide(command: UnfreezeCard, state: State): Decision<Events> {
  return { card: decideAction('unfreeze', (c) => ({ type: 'CardUnfrozen', data: { cardId: c.cardId } }), command, state.card) }
}

export const unfreezeCard: Decider<UnfreezeCard, State, Events> = {
  schema,
  streams: (c) => ({ card: { type: card, id: c.cardId } }),
  decide,
  correlationId: (c) => c.cardId,
}
