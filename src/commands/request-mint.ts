import { z } from 'zod'
import { mint, type MintEvent, type MintState } from '../events/mint.ts'
import { encodeMicros } from '../events/money.ts'
import { wallet, type WalletEvent, type WalletState } from '../events/wallet.ts'
import type { Decider, Decision } from './handler.ts'
import { amount, id, requireActiveWallet, requireNew } from './rules.ts'

/** The treasury balance is checked by the process manager, which asks Circle before moving funds. */
export const schema = z.object({ mintId: id, walletId: id, amount })
export type RequestMint = z.infer<typeof schema>
type State = { mint: MintState; wallet: WalletState }
type Events = { mint: MintEvent; wallet: WalletEvent }

function decide(command: RequestMint, state: State): Decision<Events> {
  requireNew(state.mint.status, 'mint', command.mintId)
  requireActiveWallet(state.wallet, command.walletId)
  return { mint: [{ type: 'MintRequested', data: { mintId: command.mintId, walletId: command.walletId, amount: encodeMicros(command.amount) } }] }
}

export const requestMint: Decider<RequestMint, State, Events> = {
  schema,
  streams: (c) => ({ mint: { type: mint, id: c.mintId }, wallet: { type: wallet, id: c.walletId } }),
  decide,
  correlationId: (c) => c.mintId,
}
