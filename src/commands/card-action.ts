import { z } from 'zod'
import { actionTarget, type CardAction, type CardEvent, type CardState, type IssuedCardState } from '../events/card.ts'
import { DomainError } from './errors.ts'
import { id, requireExisting } from './rules.ts'

/**
 * A card action as the API records it: `issuer: 'confirmed'` once the issuer did it (the card's
 * status moves), `'pending'` when the issuer did not confirm in time (the action is recorded as
 * pending and the process manager keeps trying). An issuer refusal records nothing.
 */
export const schema = z.object({ cardId: id, reason: z.string().max(255).optional(), issuer: z.enum(['confirmed', 'pending']) })
export type CardActionCommand = z.infer<typeof schema>

/** True when the card already is where the action leads and nothing is pending: the action is a no-op. */
export const alreadyDone = (action: CardAction, state: CardState) => state.status === actionTarget[action] && state.pendingAction === undefined

/** Refuses an action the card's state does not allow; shared by freeze, unfreeze and close. */
export function requireActionable(action: CardAction, cardId: string, state: CardState): asserts state is IssuedCardState {
  requireExisting(state.status, 'card', cardId)
  if (state.status === 'closed') {
    if (action === 'close') return
    throw new DomainError('card_closed', `card ${cardId} is closed`)
  }
  if (state.status !== 'active' && state.status !== 'frozen') {
    if (action === 'unfreeze') throw new DomainError('card_not_frozen', `card ${cardId} is ${state.status}, not frozen`)
    throw new DomainError('card_not_active', `card ${cardId} is ${state.status}; only an issued card can be ${action === 'close' ? 'closed' : 'frozen'}`)
  }
}

export function decideAction(action: CardAction, confirmed: (command: CardActionCommand) => CardEvent, command: CardActionCommand, state: CardState): CardEvent[] {
  requireActionable(action, command.cardId, state)
  if (alreadyDone(action, state) || state.status === 'closed') return []
  if (command.issuer === 'confirmed') return [confirmed(command)]
  if (state.pendingAction === action) return []
  const data: Extract<CardEvent, { type: 'CardActionRequested' }>['data'] = { cardId: command.cardId, action }
  if (command.reason !== undefined) data.reason = command.reason
  return [{ type: 'CardActionRequested', data }]
}
