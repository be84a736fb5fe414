import t from 'tap'
import { requestRedeem } from '../../src/commands/request-redeem.ts'
import { available, reserved, wallet, type WalletEvent } from '../../src/events/wallet.ts'
import { spec, stateOf } from '../helpers/spec.ts'
import { activeWallet, ids, linkedBank, pendingWallet, usd } from '../helpers/fixtures.ts'

const command = { redeemId: ids.redeem, walletId: ids.wallet, bankAccountId: ids.bank, amount: usd('40') }
const funded: WalletEvent[] = activeWallet(ids.wallet, 'owner-1', usd('100'))
const covered = { wallet: funded, bankAccount: linkedBank() }

t.test('a covered redeem opens the operation and reserves the amount on the wallet', async (t) => {
  const events = spec(t, requestRedeem)
    .given(covered)
    .when(command)
    .then({
      redeem: [{ type: 'RedeemRequested', data: { redeemId: ids.redeem, walletId: ids.wallet, bankAccountId: ids.bank, amount: '40000000' } }],
      wallet: [{ type: 'FundsReserved', data: { walletId: ids.wallet, operationId: ids.redeem, amount: '40000000' } }],
    })
  const after = stateOf(wallet, [...funded, ...(events.wallet ?? [])])
  t.equal(available(after), usd('60'))
  t.equal(reserved(after), usd('40'))
})

t.test('a redeem beyond the available balance is rejected with insufficient_funds', async (t) => {
  spec(t, requestRedeem).given(covered).when({ ...command, amount: usd('100.000001') }).thenRejects('insufficient_funds')
  const halfReserved: WalletEvent[] = [...funded, { type: 'FundsReserved', data: { walletId: ids.wallet, operationId: 'other', amount: usd('70').toString() } }]
  spec(t, requestRedeem).given({ ...covered, wallet: halfReserved }).when(command).thenRejects('insufficient_funds', 'reserved funds are not available')
})

t.test('an unknown or inactive wallet is rejected', async (t) => {
  spec(t, requestRedeem).given({ ...covered, wallet: [] }).when(command).thenRejects('wallet_not_found')
  spec(t, requestRedeem).given({ ...covered, wallet: pendingWallet() }).when(command).thenRejects('wallet_not_active')
})

t.test('an unknown or unlinked bank account is rejected', async (t) => {
  spec(t, requestRedeem).given({ ...covered, bankAccount: [] }).when(command).thenRejects('bank_account_not_found')
  spec(t, requestRedeem).given({ ...covered, bankAccount: linkedBank().slice(0, 2) }).when(command).thenRejects('bank_account_not_linked')
})

t.test("another owner's bank account is rejected with bank_account_owner_mismatch", async (t) => {
  spec(t, requestRedeem).given({ ...covered, bankAccount: linkedBank(ids.bank, 'someone-else') }).when(command).thenRejects('bank_account_owner_mismatch')
})

t.test('reusing a redeem id is rejected with already_exists', async (t) => {
  spec(t, requestRedeem)
    .given({ ...covered, redeem: [{ type: 'RedeemRequested', data: { redeemId: ids.redeem, walletId: ids.wallet, bankAccountId: ids.bank, amount: '1' } }] })
    .when(command)
    .thenRejects('already_exists')
})
