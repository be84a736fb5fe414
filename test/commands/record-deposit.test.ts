import t from 'tap'
import { decide } from '../../src/commands/record-deposit.ts'
import { deposit } from '../../src/events/deposit.ts'
import { available, wallet } from '../../src/events/wallet.ts'
import { given, thenRejects } from '../helpers/decider.ts'
import { activeWallet, ids, usd } from '../helpers/fixtures.ts'

const command = { circleTransferId: 'ct-dep-1', walletId: ids.wallet, amount: usd('5.25'), chain: 'ETH', txHash: '0xabc' }

t.test('an inbound deposit is recorded and credits the wallet', async (t) => {
  const d = decide(command, { deposit: given(deposit, []), wallet: given(wallet, activeWallet()) })
  t.same(d.deposit, [{ type: 'DepositCompleted', data: { depositId: 'ct-dep-1', walletId: ids.wallet, circleTransferId: 'ct-dep-1', amount: '5250000', chain: 'ETH', txHash: '0xabc' } }])
  t.equal(available(d.wallet.reduce(wallet.evolve, given(wallet, activeWallet()))), usd('5.25'))
})

t.test('the same deposit reported again appends nothing', async (t) => {
  const first = decide(command, { deposit: given(deposit, []), wallet: given(wallet, activeWallet()) })
  t.same(decide(command, { deposit: given(deposit, first.deposit), wallet: given(wallet, activeWallet()) }), { deposit: [], wallet: [] })
  thenRejects(t, () => decide({ ...command, amount: usd('6') }, { deposit: given(deposit, first.deposit), wallet: given(wallet, activeWallet()) }), 'outcome_conflict')
})

t.test('a deposit to an unknown wallet is rejected with wallet_not_found', async (t) => {
  thenRejects(t, () => decide(command, { deposit: given(deposit, []), wallet: given(wallet, []) }), 'wallet_not_found')
})
