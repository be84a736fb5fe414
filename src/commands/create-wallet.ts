import { z } from 'zod'
import { wallet, type WalletEvent, type WalletState } from '../events/wallet.ts'
import type { Decider, Decision } from './handler.ts'
import { id, ownerId, requireNew } from './rules.ts'

export const schema = z.object({ walletId: id, ownerId, description: z.string().max(255).optional() })
export type CreateWallet = z.infer<typeof schema>
type State = { wallet: WalletState }
type Events = { wallet: WalletEvent }

function decide(command: CreateWallet, state: State): Decision<Events> {
  requireNew(state.wallet.status, 'wallet', command.walletId)
  const data: { walletId: string; ownerId: string; description?: string } = { walletId: command.walletId, ownerId: command.ownerId }
  if (command.description !== undefined) data.description = command.description
  return { wallet: [{ type: 'WalletCreationRequested', data }] }
}

export const createWallet: Decider<CreateWallet, State, Events> = {
  schema,
  streams: (c) => ({ wallet: { type: wallet, id: c.walletId } }),
  decide,
  correlationId: (c) => c.walletId,
}
