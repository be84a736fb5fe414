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

t.test('a wallet at its address limit is refused with deposit_address_limit; failed addresses do not count', async (t) => {
  const requested = (n: number) => ({ type: 'DepositAddressRequested' as const, data: { walletId: ids.wallet, addressId: `00000000-0000-4000-8000-00000000000${n}`, chain: 'SOL' } })
  const two = given(wallet, [...activeWallet(), requested(1), requested(2)])
  thenRejects(t, () => decide({ ...command, maxAddresses: 2 }, { wallet: two }), 'deposit_address_limit')
  t.equal(decide({ ...command, maxAddresses: 3 }, { wallet: two }).wallet.length, 1, 'below the limit is fine')
  const oneFailed = given(wallet, [
    ...activeWallet(),
    requested(1),
    requested(2),
    { type: 'DepositAddressFailed', data: { walletId: ids.wallet, addressId: '00000000-0000-4000-8000-000000000001', chain: 'SOL', failure: { code: 'circle_2', message: 'x' } } },
  ])
  t.equal(decide({ ...command, maxAddresses: 2 }, { wallet: oneFailed }).wallet.length, 1, 'a failed address frees its place')
})
