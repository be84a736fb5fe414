import { circleKey } from '../../commands/ids.ts'
import { recordAddressOutcome } from '../../commands/record-address-outcome.ts'
import { recordWalletOutcome } from '../../commands/record-wallet-outcome.ts'
import { fold } from '../../events/fold.ts'
import { wallet } from '../../events/wallet.ts'
import { done, failureOf, isRefusal, record, type Step } from '../context.ts'

/** Creates the wallet at Circle, then every requested deposit address. */
export const walletStep: Step = async (ctx, walletId) => {
  const stream = wallet.streamName(walletId)
  let { state } = await fold(ctx.store, wallet, walletId)
  if (state.status === 'pending') {
    try {
      const created = await ctx.circle.createWallet({ idempotencyKey: circleKey(walletId, 'create-wallet'), description: `owner ${state.ownerId}` })
      await record(ctx, recordWalletOutcome, { walletId, outcome: { type: 'created', circleWalletId: created.walletId } }, stream, 'created')
    } catch (err) {
      if (!isRefusal(err)) throw err
      await record(ctx, recordWalletOutcome, { walletId, outcome: { type: 'failed', failure: failureOf(err) } }, stream, 'failed')
    }
    state = (await fold(ctx.store, wallet, walletId)).state
  }
  if (state.status !== 'active') return done
  for (const address of Object.values(state.addresses).filter((a) => a.status === 'pending')) {
    const { addressId } = address
    try {
      const created = await ctx.circle.createDepositAddress(state.circleWalletId, { idempotencyKey: circleKey(addressId, 'address'), chain: address.chain })
      const outcome = created.addressTag === undefined ? { type: 'created' as const, address: created.address } : { type: 'created' as const, address: created.address, addressTag: created.addressTag }
      await record(ctx, recordAddressOutcome, { walletId, addressId, outcome }, stream, `address/${addressId}/created`)
    } catch (err) {
      if (!isRefusal(err)) throw err
      await record(ctx, recordAddressOutcome, { walletId, addressId, outcome: { type: 'failed', failure: failureOf(err) } }, stream, `address/${addressId}/failed`)
    }
  }
  return done
}
