import { bankAccount } from '../../events/bank-account.ts'
import { fold } from '../../events/fold.ts'
import { wallet } from '../../events/wallet.ts'
import type { StepContext } from '../context.ts'

/**
 * Circle's id of one of our wallets. Operations are requested only on active wallets, so a wallet
 * without one here is a broken invariant: the step fails and is retried, never sent to Circle.
 */
export async function circleWalletOf(ctx: StepContext, walletId: string): Promise<string> {
  const { state } = await fold(ctx.store, wallet, walletId)
  if (state.status !== 'active') throw new Error(`wallet ${walletId} is ${state.status}; it has no Circle wallet`)
  return state.circleWalletId
}

/** Circle's id of a linked wire account; a redeem is requested only on an active bank account. */
export async function circleWireOf(ctx: StepContext, bankAccountId: string): Promise<string> {
  const { state } = await fold(ctx.store, bankAccount, bankAccountId)
  if (state.status !== 'active') throw new Error(`bank account ${bankAccountId} is ${state.status}; it has no linked Circle wire account`)
  return state.circleWireId
}
