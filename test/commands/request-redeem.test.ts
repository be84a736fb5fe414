import t from 'tap'
import { decide } from '../../src/commands/request-redeem.ts'
import { bankAccount } from '../../src/events/bank-account.ts'
import { redeem } from '../../src/events/redeem.ts'
import { available, reserved, wallet } from '../../src/events/wallet.ts'
import { given, thenRejects } from '../helpers/decider.ts'
import { activeWallet, ids, linkedBank, pendingWallet, usd } from '../helpers/fixtures.ts'

const command = { redeemId: ids.redeem, walletId: ids.wallet, bankAccountId: ids.bank, amount: usd('40') }
const funded = () => given(wallet, activeWallet(ids.wallet, 'owner-1', usd('100')))
const state = (over: Partial<Parameters<typeof decide>[1]> = {}) => ({
  redeem: given(redeem, []),
  wallet: funded(),
  bankAccount: given(bankAccount, linkedBank()),
  ...over,
})

t.test('a covered redeem opens the operation and reserves the amount on the wallet', async (t) => {
  const events = decide(command, state())
  t.same(events.redeem, [{ type: 'RedeemRequested', data: { redeemId: ids.redeem, walletId: ids.wallet, bankAccountId: ids.bank, amount: '40000000' } }])
  t.same(events.wallet, [{ type: 'FundsReserved', data: { walletId: ids.wallet, operationId: ids.redeem, amount: '40000000' } }])
  const after = events.wallet.reduce(wallet.evolve, funded())
  t.equal(available(after), usd('60'))
  t.equal(reserved(after), usd('40'))
})

t.test('a redeem beyond the available balance is rejected with insufficient_funds', async (t) => {
  thenRejects(t, () => decide({ ...command, amount: usd('100.000001') }, state()), 'insufficient_funds')
  const halfReserved = given(wallet, [
    ...activeWallet(ids.wallet, 'owner-1', usd('100')),
    { type: 'FundsReserved', data: { walletId: ids.wallet, operationId: 'other', amount: usd('70').toString() } },
  ])
  thenRejects(t, () => decide(command, state({ wallet: halfReserved })), 'insufficient_funds', 'reserved funds are not available')
})

t.test('an unknown or inactive wallet is rejected', async (t) => {
  thenRejects(t, () => decide(command, state({ wallet: given(wallet, []) })), 'wallet_not_found')
  thenRejects(t, () => decide(command, state({ wallet: given(wallet, pendingWallet()) })), 'wallet_not_active')
})

t.test('an unknown or unlinked bank account is rejected', async (t) => {
  thenRejects(t, () => decide(command, state({ bankAccount: given(bankAccount, []) })), 'bank_account_not_found')
  thenRejects(t, () => decide(command, state({ bankAccount: given(bankAccount, linkedBank().slice(0, 2)) })), 'bank_account_not_linked')
})

t.test("another owner's bank account is rejected with bank_account_owner_mismatch", async (t) => {
  thenRejects(t, () => decide(command, state({ bankAccount: given(bankAccount, linkedBank(ids.bank, 'someone-else')) })), 'bank_account_owner_mismatch')
})

t.test('reusing a redeem id is rejected with already_exists', async (t) => {
  const existing = given(redeem, [{ type: 'RedeemRequested', data: { redeemId: ids.redeem, walletId: ids.wallet, bankAccountId: ids.bank, amount: '1' } }])
  thenRejects(t, () => decide(command, state({ redeem: existing })), 'already_exists')
})
