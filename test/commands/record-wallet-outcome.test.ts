import t from 'tap'
import { decide as recordAddress } from '../../src/commands/record-address-outcome.ts'
import { decide } from '../../src/commands/record-wallet-outcome.ts'
import { wallet, type WalletEvent } from '../../src/events/wallet.ts'
import { given, thenRejects } from '../helpers/decider.ts'
import { activeWallet, ids, pendingWallet } from '../helpers/fixtures.ts'

const walletId = ids.wallet
const failure = { code: 'circle_error', message: 'nope' }
const created = { walletId, outcome: { type: 'created' as const, circleWalletId: 'circle-11111111' } }
const failed = { walletId, outcome: { type: 'failed' as const, failure } }

t.test('a pending wallet becomes active or failed', async (t) => {
  t.same(decide(created, { wallet: given(wallet, pendingWallet()) }).wallet, [{ type: 'WalletCreated', data: { walletId, circleWalletId: 'circle-11111111' } }])
  t.same(decide(failed, { wallet: given(wallet, pendingWallet()) }).wallet, [{ type: 'WalletCreationFailed', data: { walletId, failure } }])
})

t.test('a repeated outcome appends nothing', async (t) => {
  t.same(decide(created, { wallet: given(wallet, activeWallet()) }).wallet, [])
  t.same(decide(failed, { wallet: given(wallet, [...pendingWallet(), { type: 'WalletCreationFailed', data: { walletId, failure } }]) }).wallet, [])
})

t.test('an outcome contradicting a terminal state is rejected with outcome_conflict', async (t) => {
  thenRejects(t, () => decide(failed, { wallet: given(wallet, activeWallet()) }), 'outcome_conflict')
  thenRejects(t, () => decide({ walletId, outcome: { type: 'created', circleWalletId: 'another' } }, { wallet: given(wallet, activeWallet()) }), 'outcome_conflict')
  thenRejects(t, () => decide(created, { wallet: given(wallet, [...pendingWallet(), { type: 'WalletCreationFailed', data: { walletId, failure } }]) }), 'outcome_conflict')
})

t.test('an unknown wallet is rejected with not_found', async (t) => {
  thenRejects(t, () => decide(created, { wallet: given(wallet, []) }), 'not_found')
})

const requested: WalletEvent[] = [...activeWallet(), { type: 'DepositAddressRequested', data: { walletId, addressId: ids.address, chain: 'XLM' } }]
const addressCreated = { walletId, addressId: ids.address, outcome: { type: 'created' as const, address: 'GA7Q', addressTag: '42' } }

t.test('a requested deposit address is recorded created (with its tag) or failed', async (t) => {
  t.same(recordAddress(addressCreated, { wallet: given(wallet, requested) }).wallet, [
    { type: 'DepositAddressCreated', data: { walletId, addressId: ids.address, chain: 'XLM', address: 'GA7Q', addressTag: '42' } },
  ])
  t.same(recordAddress({ walletId, addressId: ids.address, outcome: { type: 'failed', failure } }, { wallet: given(wallet, requested) }).wallet, [
    { type: 'DepositAddressFailed', data: { walletId, addressId: ids.address, chain: 'XLM', failure } },
  ])
})

t.test('address outcomes: repeats append nothing, contradictions and unknown addresses are rejected', async (t) => {
  const done = given(wallet, [...requested, ...recordAddress(addressCreated, { wallet: given(wallet, requested) }).wallet])
  t.same(recordAddress(addressCreated, { wallet: done }).wallet, [])
  thenRejects(t, () => recordAddress({ ...addressCreated, outcome: { type: 'failed', failure } }, { wallet: done }), 'outcome_conflict')
  thenRejects(t, () => recordAddress({ ...addressCreated, addressId: ids.mint }, { wallet: done }), 'not_found')
  thenRejects(t, () => recordAddress(addressCreated, { wallet: given(wallet, []) }), 'not_found')
})
