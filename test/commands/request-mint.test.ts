import t from 'tap'
import { requestMint } from '../../src/commands/request-mint.ts'
import { spec } from '../helpers/spec.ts'
import { activeWallet, ids, pendingWallet, usd } from '../helpers/fixtures.ts'

const command = { mintId: ids.mint, walletId: ids.wallet, amount: usd('10.50') }

t.test('a mint to an active wallet is requested with the amount in micro-units', async (t) => {
  spec(t, requestMint)
    .given({ wallet: activeWallet() })
    .when(command)
    .then({ mint: [{ type: 'MintRequested', data: { mintId: ids.mint, walletId: ids.wallet, amount: '10500000' } }] })
})

t.test('an unknown wallet is rejected with wallet_not_found', async (t) => {
  spec(t, requestMint).when(command).thenRejects('wallet_not_found')
})

t.test('an inactive wallet is rejected with wallet_not_active', async (t) => {
  spec(t, requestMint).given({ wallet: pendingWallet() }).when(command).thenRejects('wallet_not_active')
})

t.test('reusing a mint id is rejected with already_exists', async (t) => {
  spec(t, requestMint)
    .given({ mint: [{ type: 'MintRequested', data: { mintId: ids.mint, walletId: ids.wallet, amount: '1' } }], wallet: activeWallet() })
    .when(command)
    .thenRejects('already_exists')
})
