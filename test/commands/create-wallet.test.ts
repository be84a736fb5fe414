import t from 'tap'
import { decide } from '../../src/commands/create-wallet.ts'
import { wallet } from '../../src/events/wallet.ts'
import { given, thenRejects } from '../helpers/decider.ts'
import { ids, pendingWallet } from '../helpers/fixtures.ts'

t.test('a new wallet is requested with its owner and description', async (t) => {
  const events = decide({ walletId: ids.wallet, ownerId: 'owner-1', description: 'savings' }, { wallet: given(wallet, []) })
  t.same(events.wallet, [{ type: 'WalletCreationRequested', data: { walletId: ids.wallet, ownerId: 'owner-1', description: 'savings' } }])
})

t.test('creating a wallet id that exists is rejected with already_exists', async (t) => {
  thenRejects(t, () => decide({ walletId: ids.wallet, ownerId: 'owner-1' }, { wallet: given(wallet, pendingWallet()) }), 'already_exists')
})
