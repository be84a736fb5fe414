import t from 'tap'
import { decide } from '../../src/commands/request-mint.ts'
import { mint } from '../../src/events/mint.ts'
import { wallet } from '../../src/events/wallet.ts'
import { given, thenRejects } from '../helpers/decider.ts'
import { activeWallet, ids, pendingWallet, usd } from '../helpers/fixtures.ts'

const command = { mintId: ids.mint, walletId: ids.wallet, amount: usd('10.50') }

t.test('a mint to an active wallet is requested with the amount in micro-units', async (t) => {
  const events = decide(command, { mint: given(mint, []), wallet: given(wallet, activeWallet()) })
  t.same(events.mint, [{ type: 'MintRequested', data: { mintId: ids.mint, walletId: ids.wallet, amount: '10500000' } }])
})

t.test('an unknown wallet is rejected with wallet_not_found', async (t) => {
  thenRejects(t, () => decide(command, { mint: given(mint, []), wallet: given(wallet, []) }), 'wallet_not_found')
})

t.test('an inactive wallet is rejected with wallet_not_active', async (t) => {
  thenRejects(t, () => decide(command, { mint: given(mint, []), wallet: given(wallet, pendingWallet()) }), 'wallet_not_active')
})

t.test('reusing a mint id is rejected with already_exists', async (t) => {
  const existing = given(mint, [{ type: 'MintRequested', data: { mintId: ids.mint, walletId: ids.wallet, amount: '1' } }])
  thenRejects(t, () => decide(command, { mint: existing, wallet: given(wallet, activeWallet()) }), 'already_exists')
})
