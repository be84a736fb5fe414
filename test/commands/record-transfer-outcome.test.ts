import t from 'tap'
import { decide } from '../../src/commands/record-transfer-outcome.ts'
import { transfer, type TransferEvent } from '../../src/events/transfer.ts'
import { available, wallet, type WalletEvent } from '../../src/events/wallet.ts'
import { given, thenRejects } from '../helpers/decider.ts'
import { activeWallet, ids, usd } from '../helpers/fixtures.ts'

const transferId = ids.transfer
const failure = { code: 'blockchain_error', message: 'reverted' }
const source: WalletEvent[] = [
  ...activeWallet(ids.wallet, 'owner-1', usd('100')),
  { type: 'FundsReserved', data: { walletId: ids.wallet, operationId: transferId, amount: '10000000' } },
]
const internal: TransferEvent[] = [
  { type: 'TransferRequested', data: { transferId, sourceWalletId: ids.wallet, destination: { type: 'wallet', walletId: ids.otherWallet }, amount: '10000000' } },
  { type: 'TransferSubmitted', data: { transferId, circleTransferId: 'ct-1' } },
]
const external: TransferEvent[] = [
  {
    type: 'TransferRequested',
    data: { transferId, sourceWalletId: ids.wallet, destination: { type: 'blockchain', chain: 'SOL', address: '4Nd1mBQtrMJVYVfKf2PJy9NZUZdTAsp7D4xWLs4gDB4T' }, amount: '10000000' },
  },
]
const at = (events: TransferEvent[], src = source) => ({
  transfer: given(transfer, events),
  source: given(wallet, src),
  destination: given(wallet, activeWallet(ids.otherWallet, 'owner-2')),
})

t.test('an internal transfer completes: source debited, destination credited, in one decision', async (t) => {
  const d = decide({ transferId, outcome: { type: 'completed', circleTransferId: 'ct-1' } }, at(internal))
  t.same(d.transfer, [{ type: 'TransferCompleted', data: { transferId, circleTransferId: 'ct-1' } }])
  t.same(d.source, [{ type: 'FundsDebited', data: { walletId: ids.wallet, operationId: transferId, amount: '10000000' } }])
  t.same(d.destination, [{ type: 'FundsCredited', data: { walletId: ids.otherWallet, operationId: transferId, amount: '10000000', source: 'transfer' } }])
  t.equal(available(d.source!.reduce(wallet.evolve, given(wallet, source))), usd('90'))
})

t.test('an on-chain transfer is submitted then completes with its tx hash and credits nobody of ours', async (t) => {
  const s = decide({ transferId, outcome: { type: 'submitted', circleTransferId: 'ct-9' } }, at(external))
  t.same(s.transfer, [{ type: 'TransferSubmitted', data: { transferId, circleTransferId: 'ct-9' } }])
  const d = decide({ transferId, outcome: { type: 'completed', circleTransferId: 'ct-9', txHash: '5Kx' } }, at([...external, ...s.transfer]))
  t.same(d.transfer, [{ type: 'TransferCompleted', data: { transferId, circleTransferId: 'ct-9', txHash: '5Kx' } }])
  t.same(d.destination, [])
})

t.test('a failed transfer releases the reservation', async (t) => {
  const d = decide({ transferId, outcome: { type: 'failed', failure } }, at(internal))
  t.same(d.transfer, [{ type: 'TransferFailed', data: { transferId, failure } }])
  t.same(d.source, [{ type: 'ReservationReleased', data: { walletId: ids.wallet, operationId: transferId, amount: '10000000' } }])
  t.equal(available(d.source!.reduce(wallet.evolve, given(wallet, source))), usd('100'))
})

t.test('repeated outcomes append nothing; contradictions are rejected', async (t) => {
  const completed = [...internal, { type: 'TransferCompleted' as const, data: { transferId, circleTransferId: 'ct-1' } }]
  t.same(decide({ transferId, outcome: { type: 'completed', circleTransferId: 'ct-1' } }, at(completed)).transfer, [])
  t.same(decide({ transferId, outcome: { type: 'submitted', circleTransferId: 'ct-1' } }, at(completed)).transfer, [])
  thenRejects(t, () => decide({ transferId, outcome: { type: 'failed', failure } }, at(completed)), 'outcome_conflict')
  const failed = [...internal, { type: 'TransferFailed' as const, data: { transferId, failure } }]
  t.same(decide({ transferId, outcome: { type: 'failed', failure } }, at(failed)).transfer, [])
  thenRejects(t, () => decide({ transferId, outcome: { type: 'completed', circleTransferId: 'ct-1' } }, at(failed)), 'outcome_conflict')
  thenRejects(t, () => decide({ transferId, outcome: { type: 'submitted', circleTransferId: 'ct-1' } }, at(failed)), 'outcome_conflict')
  thenRejects(t, () => decide({ transferId, outcome: { type: 'completed', circleTransferId: 'other' } }, at(internal)), 'outcome_conflict')
  thenRejects(t, () => decide({ transferId, outcome: { type: 'failed', failure } }, at([])), 'not_found')
})
