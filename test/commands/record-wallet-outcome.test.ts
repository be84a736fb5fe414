import t from 'tap'
import { recordAddressOutcome } from '../../src/commands/record-address-outcome.ts'
import { recordWalletOutcome } from '../../src/commands/record-wallet-outcome.ts'
import type { WalletEvent } from '../../src/events/wallet.ts'
import { spec } from '../helpers/spec.ts'
import { activeWallet, ids, pendingWallet } from '../helpers/fixtures.ts'

const walletId = ids.wallet
const failure = { code: 'circle_error', message: 'nope' }
const created = { walletId, outcome: { type: 'created' as const, circleWalletId: 'circle-11111111' } }
const failed = { walletId, outcome: { type: 'failed' as const, failure } }
const failedWallet: WalletEvent[] = [...pendingWallet(), { type: 'WalletCreationFailed', data: { walletId, failure } }]

t.test('a pending wallet becomes active or failed', async (t) => {
  spec(t, recordWalletOutcome).given({ wallet: pendingWallet() }).when(created).then({ wallet: [{ type: 'WalletCreated', data: { walletId, circleWalletId: 'circle-11111111' } }] })
  spec(t, recordWalletOutcome).given({ wallet: pendingWallet() }).when(failed).then({ wallet: [{ type: 'WalletCreationFailed', data: { walletId, failure } }] })
})

t.test('a repeated outcome appends nothing', async (t) => {
  spec(t, recordWalletOutcome).given({ wallet: activeWallet() }).when(created).thenNothing()
  spec(t, recordWalletOutcome).given({ wallet: failedWallet }).when(failed).thenNothing()
})

t.test('an outcome contradicting a terminal state is rejected with outcome_conflict', async (t) => {
  spec(t, recordWalletOutcome).given({ wallet: activeWallet() }).when(failed).thenRejects('outcome_conflict')
  spec(t, recordWalletOutcome).given({ wallet: activeWallet() }).when({ walletId, outcome: { type: 'created', circleWalletId: 'another' } }).thenRejects('outcome_conflict')
  spec(t, recordWalletOutcome).given({ wallet: failedWallet }).when(created).thenRejects('outcome_conflict')
})

t.test('an unknown wallet is rejected with not_found', async (t) => {
  spec(t, recordWalletOutcome).when(created).thenRejects('not_found')
})

const requested: WalletEvent[] = [...activeWallet(), { type: 'DepositAddressRequested', data: { walletId, addressId: ids.address, chain: 'XLM' } }]
const addressCreated = { walletId, addressId: ids.address, outcome: { type: 'created' as const, address: 'GA7Q', addressTag: '42' } }

t.test('a requested deposit address is recorded created (with its tag) or failed', async (t) => {
  spec(t, recordAddressOutcome)
    .given({ wallet: requested })
    .when(addressCreated)
    .then({ wallet: [{ type: 'DepositAddressCreated', data: { walletId, addressId: ids.address, chain: 'XLM', address: 'GA7Q', addressTag: '42' } }] })
  spec(t, recordAddressOutcome)
    .given({ wallet: requested })
    .when({ walletId, addressId: ids.address, outcome: { type: 'failed', failure } })
    .then({ wallet: [{ type: 'DepositAddressFailed', data: { walletId, addressId: ids.address, chain: 'XLM', failure } }] })
})

t.test('address outcomes: repeats append nothing, contradictions and unknown addresses are rejected', async (t) => {
  const done = [...requested, ...(spec(t, recordAddressOutcome).given({ wallet: requested }).when(addressCreated).decision().wallet ?? [])]
  spec(t, recordAddressOutcome).given({ wallet: done }).when(addressCreated).thenNothing()
  spec(t, recordAddressOutcome).given({ wallet: done }).when({ ...addressCreated, outcome: { type: 'failed', failure } }).thenRejects('outcome_conflict')
  spec(t, recordAddressOutcome).given({ wallet: done }).when({ ...addressCreated, addressId: ids.mint }).thenRejects('not_found')
  spec(t, recordAddressOutcome).when(addressCreated).thenRejects('not_found')
})
