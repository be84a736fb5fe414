import t, { type Test } from 'tap'
import { recordTransferOutcome, type RecordTransferOutcome } from '../../src/commands/record-transfer-outcome.ts'
import type { TransferEvent } from '../../src/events/transfer.ts'
import { available, wallet, type WalletEvent } from '../../src/events/wallet.ts'
import { spec, stateOf } from '../helpers/spec.ts'
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
/**
 * The transfer's past events, then an outcome. Its wallets are read as production reads them: the
 * source once the transfer names it, the destination only when it is one of ours.
 */
const at = (t: Test, events: TransferEvent[], outcome: RecordTransferOutcome['outcome']) => {
  const requested = events[0]?.type === 'TransferRequested' ? events[0].data : undefined
  const wallets = {
    ...(requested ? { source } : {}),
    ...(requested?.destination.type === 'wallet' ? { destination: activeWallet(ids.otherWallet, 'owner-2') } : {}),
  }
  return spec(t, recordTransferOutcome).given({ transfer: events, ...wallets }).when({ transferId, outcome })
}

t.test('an internal transfer completes: source debited, destination credited, in one decision', async (t) => {
  const d = at(t, internal, { type: 'completed', circleTransferId: 'ct-1' }).then({
    transfer: [{ type: 'TransferCompleted', data: { transferId, circleTransferId: 'ct-1' } }],
    source: [{ type: 'FundsDebited', data: { walletId: ids.wallet, operationId: transferId, amount: '10000000' } }],
    destination: [{ type: 'FundsCredited', data: { walletId: ids.otherWallet, operationId: transferId, amount: '10000000', source: 'transfer' } }],
  })
  t.equal(available(stateOf(wallet, [...source, ...(d.source ?? [])])), usd('90'))
})

t.test('an on-chain transfer is submitted then completes with its tx hash and credits nobody of ours', async (t) => {
  const s = at(t, external, { type: 'submitted', circleTransferId: 'ct-9' }).then({ transfer: [{ type: 'TransferSubmitted', data: { transferId, circleTransferId: 'ct-9' } }] })
  at(t, [...external, ...(s.transfer ?? [])], { type: 'completed', circleTransferId: 'ct-9', txHash: '5Kx' }).then({
    transfer: [{ type: 'TransferCompleted', data: { transferId, circleTransferId: 'ct-9', txHash: '5Kx' } }],
    source: [{ type: 'FundsDebited', data: { walletId: ids.wallet, operationId: transferId, amount: '10000000' } }],
    destination: [],
  })
})

t.test('a failed transfer releases the reservation', async (t) => {
  const d = at(t, internal, { type: 'failed', failure }).then({
    transfer: [{ type: 'TransferFailed', data: { transferId, failure } }],
    source: [{ type: 'ReservationReleased', data: { walletId: ids.wallet, operationId: transferId, amount: '10000000' } }],
  })
  t.equal(available(stateOf(wallet, [...source, ...(d.source ?? [])])), usd('100'))
})

t.test('repeated outcomes append nothing; contradictions are rejected', async (t) => {
  const completed = [...internal, { type: 'TransferCompleted' as const, data: { transferId, circleTransferId: 'ct-1' } }]
  at(t, completed, { type: 'completed', circleTransferId: 'ct-1' }).thenNothing()
  at(t, completed, { type: 'submitted', circleTransferId: 'ct-1' }).thenNothing()
  at(t, completed, { type: 'failed', failure }).thenRejects('outcome_conflict')
  const failed = [...internal, { type: 'TransferFailed' as const, data: { transferId, failure } }]
  at(t, failed, { type: 'failed', failure }).thenNothing()
  at(t, failed, { type: 'completed', circleTransferId: 'ct-1' }).thenRejects('outcome_conflict')
  at(t, failed, { type: 'submitted', circleTransferId: 'ct-1' }).thenRejects('outcome_conflict')
  at(t, internal, { type: 'completed', circleTransferId: 'other' }).thenRejects('outcome_conflict')
  at(t, [], { type: 'failed', failure }).thenRejects('not_found')
})
