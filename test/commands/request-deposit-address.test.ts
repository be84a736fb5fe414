import t from 'tap'
import { decide } from '../../src/commands/request-deposit-address.ts'
import { wallet } from '../../src/events/wallet.ts'
import { given, thenRejects } from '../helpers/decider.ts'
import { activeWallet, ids, pendingWallet } from '../helpers/fixtures.ts'

const command = { walletId: ids.wallet, addressId: ids.address, chain: 'SOL' }

t.test('an active wallet gets a deposit address request on a supported chain', async (t) => {
  const events = decide(command, { wallet: given(wallet, activeWallet()) })
  t.same(events.wallet, [{ type: 'DepositAddressRequested', data: command }])
})

t.test('an unknown wallet is rejected with wallet_not_found', async (t) => {
  thenRejects(t, () => decide(command, { wallet: given(wallet, []) }), 'wallet_not_found')
})

t.test('a pending wallet is rejected with wallet_not_active', async (t) => {
  thenRejects(t, () => decide(command, { wallet: given(wallet, pendingWallet()) }), 'wallet_not_active')
})

t.test('an unsupported chain is rejected with unsupported_chain', async (t) => {
  thenRejects(t, () => decide({ ...command, chain: 'DOGE' }, { wallet: given(wallet, activeWallet()) }), 'unsupported_chain')
  thenRejects(t, () => decide({ ...command, chain: 'sol' }, { wallet: given(wallet, activeWallet()) }), 'unsupported_chain', 'chain codes are exact')
})

t.test('reusing an address id is rejected with already_exists', async (t) => {
  const state = given(wallet, [...activeWallet(), { type: 'DepositAddressRequested', data: command }])
  thenRejects(t, () => decide(command, { wallet: state }), 'already_exists')
})
