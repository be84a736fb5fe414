import { z } from 'zod'
import { card, type CardEvent, type CardState } from '../events/card.ts'
import { wallet, type WalletEvent, type WalletState } from '../events/wallet.ts'
import type { Decider, Decision } from './handler.ts'
import { id, requireActiveWallet, requireNew } from './rules.ts'

export const schema = z.object({ cardId: id, walletId: id, cardholderName: z.string().min(1).max(100) })
export type IssueCard = z.infer<typeof schema>
type State = { card: CardState; wallet: WalletState }
type Events = { card: CardEvent; wallet: WalletEvent }

function decide(command: IssueCard, state: State): Decision<Events> {
  requireNew(state.card.status, 'card', command.cardId)
  requireActiveWallet(state.wallet, command.walletId)
  return { card: [{ type: 'CardRequested', data: { cardId: command.cardId, walletId: command.walletId, cardholderName: command.cardholderName } }] }
}

export const issueCard: Decider<IssueCard, State, Events> = {
  schema,
  streams: (c) => ({ card: { type: card, id: c.cardId }, wallet: { type: wallet, id: c.walletId } }),
  decide,
  correlationId: (c) => c.cardId,
}
