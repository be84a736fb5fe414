import t from 'tap'
import { recordDeposit } from '../../src/commands/record-deposit.ts'
import { available, wallet } from '../../src/events/wallet.ts'
import { spec, stateOf } from '../helpers/spec.ts'
import { activeWallet, ids, usd } from '../helpers/fixtures.ts'

const command = { circleTransferId: 'ct-dep-1', walletId: ids.wallet, amount: usd('5.25'), chain: 'ETH', txHash: '0xabc' }
const credit = { type: 'FundsCredited' as const, data: { walletId: ids.wallet, operationId: 'deposit:ct-dep-1', amount: '5250000', source: 'deposit' as const } }

t.test('an inbound deposit is recorded and credits the wallet', async (t) => {
  const d = spec(t, recordDeposit)
    .given({ wallet: activeWallet() })
    .when(command)
    .then({
      deposit: [{ type: 'DepositCompleted', data: { depositId: 'ct-dep-1', walletId: ids.wallet, circleTransferId: 'ct-dep-1', amount: '5250000', chain: 'ETH', txHash: '0xabc' } }],
      wallet: [credit],
    })
  t.equal(available(stateOf(wallet, [...activeWallet(), ...(d.wallet ?? [])])), usd('5.25'))
})

t.test('the same deposit reported again appends nothing', async (t) => {
  const first = spec(t, recordDeposit).given({ wallet: activeWallet() }).when(command).decision()
  spec(t, recordDeposit).given({ deposit: first.deposit ?? [], wallet: activeWallet() }).when(command).thenNothing()
  spec(t, recordDeposit).given({ deposit: first.deposit ?? [], wallet: activeWallet() }).when({ ...command, amount: usd('6') }).thenRejects('outcome_conflict')
})

t.test('a deposit to an unknown wallet is rejected with wallet_not_found', async (t) => {
  spec(t, recordDeposit).when(command).thenRejects('wallet_not_found')
})
