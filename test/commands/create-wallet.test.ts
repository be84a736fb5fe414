import t from 'tap'
import { createWallet } from '../../src/commands/create-wallet.ts'
import { spec } from '../helpers/spec.ts'
import { ids, pendingWallet } from '../helpers/fixtures.ts'

t.test('a new wallet is requested with its owner and description', async (t) => {
  spec(t, createWallet)
    .when({ walletId: ids.wallet, ownerId: 'owner-1', description: 'savings' })
    .then({ wallet: [{ type: 'WalletCreationRequested', data: { walletId: ids.wallet, ownerId: 'owner-1', description: 'savings' } }] })
})

t.test('creating a wallet id that exists is rejected with already_exists', async (t) => {
  spec(t, createWallet).given({ wallet: pendingWallet() }).when({ walletId: ids.wallet, ownerId: 'owner-1' }).thenRejects('already_exists')
})
