import { bankAccount } from '../../events/bank-account.ts'
import { fold, foldEvents } from '../../events/fold.ts'
import { wallet, type WalletState } from '../../events/wallet.ts'
import type { EventStore } from '../../events/event-store.ts'
import { setRecent } from '../../recent.ts'
import type { StepContext } from '../context.ts'

/** Events read at a time while looking for the wallet's outcome at Circle. */
const HEAD_PAGE = 16

/** Wallets whose Circle id a store's process remembers (least recently used out): about 150 bytes each. */
export const CIRCLE_WALLET_IDS_KEPT = 10_000

// Per store instance, like the fold cache: what one store's events said is never applied to another's.
// This relies on a store object seeing one immutable history: events are never updated or deleted
// (the events table refuses both), and a store is never pointed at a database that was reset
// underneath it. Unlike the fold cache, nothing downstream would catch a stale id: it goes to Circle.
const known = new WeakMap<EventStore, Map<string, string>>()

/**
 * Circle's id of one of our wallets. Operations are requested only on active wallets, so a wallet
 * without one here is a broken invariant: the step fails and is retried, never sent to Circle.
 *
 * A wallet becomes active (or failed) once and for good, before any operation on it, so only the
 * head of its stream is read, up to that event: the cost does not grow with the wallet's history
 * (the whole stream was folded on every step of every operation). The id an active wallet got never
 * changes, so it is read once per process and remembered: a transfer between two of our wallets
 * otherwise read both heads on every submission.
 */
export async function circleWalletOf(ctx: StepContext, walletId: string): Promise<string> {
  let ids = known.get(ctx.store)
  if (!ids) known.set(ctx.store, (ids = new Map()))
  const remembered = ids.get(walletId)
  if (remembered !== undefined) {
    setRecent(ids, walletId, remembered, CIRCLE_WALLET_IDS_KEPT)
    return remembered
  }
  const stream = wallet.streamName(walletId)
  let state: WalletState = wallet.initialState
  for (let from = 0; ; from += HEAD_PAGE) {
    const events = await ctx.store.readStream(stream, { fromRevision: from, maxCount: HEAD_PAGE })
    state = foldEvents(wallet, events, state)
    if (state.status === 'active') {
      setRecent(ids, walletId, state.circleWalletId, CIRCLE_WALLET_IDS_KEPT)
      return state.circleWalletId
    }
    if (state.status === 'failed' || events.length < HEAD_PAGE) throw new Error(`wallet ${walletId} is ${state.status}; it has no Circle wallet`)
  }
}

/** Circle's id of a linked wire account; a redeem is requested only on an active bank account. */
export async function circleWireOf(ctx: StepContext, bankAccountId: string): Promise<string> {
  const { state } = await fold(ctx.store, bankAccount, bankAccountId)
  if (state.status !== 'active') throw new Error(`bank account ${bankAccountId} is ${state.status}; it has no linked Circle wire account`)
  return state.circleWireId
}
