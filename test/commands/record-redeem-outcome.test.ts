import t from 'tap'
import { decide, type RecordRedeemOutcome } from '../../src/commands/record-redeem-outcome.ts'
import { redeem, type RedeemEvent } from '../../src/events/redeem.ts'
import { available, reserved, wallet, type WalletEvent } from '../../src/events/wallet.ts'
import { given, thenRejects } from '../helpers/decider.ts'
import { activeWallet, ids, usd } from '../helpers/fixtures.ts'

const redeemId = ids.redeem
const walletId = ids.wallet
const failure = { code: 'bank_transaction_error', message: 'the bank refused the wire' }
const walletEvents: WalletEvent[] = [
  ...activeWallet(walletId, 'owner-1', usd('100')),
  { type: 'FundsReserved', data: { walletId, operationId: redeemId, amount: '40000000' } },
]

/** Runs outcomes in order from a fresh request, folding each decision into the state. */
function run(...outcomes: RecordRedeemOutcome['outcome'][]) {
  let r = given(redeem, [{ type: 'RedeemRequested', data: { redeemId, walletId, bankAccountId: ids.bank, amount: '40000000' } }])
  let w = given(wallet, walletEvents)
  const appended: (RedeemEvent | WalletEvent)[] = []
  for (const outcome of outcomes) {
    const d = decide({ redeemId, outcome }, { redeem: r, wallet: w })
    r = d.redeem.reduce(redeem.evolve, r)
    w = (d.wallet ?? []).reduce(wallet.evolve, w)
    appended.push(...d.redeem, ...(d.wallet ?? []))
  }
  return { redeem: r, wallet: w, appended }
}

const happy: RecordRedeemOutcome['outcome'][] = [
  { type: 'transfer_submitted', circleTransferId: 'ct-1' },
  { type: 'transfer_completed', circleTransferId: 'ct-1' },
  { type: 'payout_submitted', circlePayoutId: 'po-1' },
  { type: 'payout_completed', circlePayoutId: 'po-1' },
]

t.test('both steps complete: the redeem completes and the reservation is debited', async (t) => {
  const { redeem: r, wallet: w, appended } = run(...happy)
  t.equal(r.status, 'completed')
  t.same(appended.map((e) => e.type), ['RedeemTransferSubmitted', 'RedeemTransferCompleted', 'RedeemPayoutSubmitted', 'RedeemCompleted', 'FundsDebited'])
  t.equal(reserved(w), 0n)
  t.equal(available(w), usd('60'))
  t.equal(w.debited, usd('40'))
})

t.test('step 1 fails: the redeem fails and the reservation is released', async (t) => {
  const { redeem: r, wallet: w, appended } = run({ type: 'transfer_submitted', circleTransferId: 'ct-1' }, { type: 'transfer_failed', failure })
  t.equal(r.status, 'failed')
  t.same(appended.at(-1), { type: 'ReservationReleased', data: { walletId, operationId: redeemId, amount: '40000000' } })
  t.equal(available(w), usd('100'))
})

t.test('the payout fails after step 1: compensation, then failure with the funds back', async (t) => {
  const { redeem: r, wallet: w, appended } = run(
    ...happy.slice(0, 3),
    { type: 'payout_failed', failure },
    { type: 'compensation_submitted', circleTransferId: 'ct-back' },
    { type: 'compensation_completed', circleTransferId: 'ct-back' },
  )
  t.equal(r.status, 'failed')
  t.same(r.failure, failure, 'the failure is the payout failure')
  t.same(appended.filter((e) => e.type === 'RedeemFailed').map((e) => e.data), [{ redeemId, failure, compensated: true }])
  t.equal(available(w), usd('100'), 'all funds back in the wallet')
  t.equal(reserved(w), 0n)
})

t.test('the status stays processing while compensation is under way', async (t) => {
  const { redeem: r } = run(...happy.slice(0, 3), { type: 'payout_failed', failure })
  t.equal(r.status, 'processing')
  t.equal(r.phase, 'compensation_due')
})

t.test('a completion webhook that overtakes our submission record records both', async (t) => {
  const { appended, redeem: r } = run({ type: 'transfer_completed', circleTransferId: 'ct-1' }, { type: 'payout_completed', circlePayoutId: 'po-1' })
  t.same(appended.map((e) => e.type), ['RedeemTransferSubmitted', 'RedeemTransferCompleted', 'RedeemPayoutSubmitted', 'RedeemCompleted', 'FundsDebited'])
  t.equal(r.circlePayoutId, 'po-1')
})

t.test('every repeated outcome appends nothing', async (t) => {
  const completed = run(...happy)
  for (const outcome of happy) {
    t.same(decide({ redeemId, outcome }, { redeem: completed.redeem, wallet: completed.wallet }).redeem, [], `repeat ${outcome.type}`)
  }
  const compensated = run(...happy.slice(0, 3), { type: 'payout_failed', failure }, { type: 'compensation_completed', circleTransferId: 'ct-back' })
  for (const outcome of [{ type: 'payout_failed', failure }, { type: 'compensation_completed', circleTransferId: 'ct-back' }] as const) {
    t.same(decide({ redeemId, outcome }, { redeem: compensated.redeem, wallet: compensated.wallet }).redeem, [], `repeat ${outcome.type}`)
  }
  const failedEarly = run({ type: 'transfer_failed', failure })
  t.same(decide({ redeemId, outcome: { type: 'transfer_failed', failure } }, failedEarly).redeem, [])
})

t.test('contradictions and out-of-order outcomes are rejected', async (t) => {
  const completed = run(...happy)
  thenRejects(t, () => decide({ redeemId, outcome: { type: 'payout_failed', failure } }, completed), 'outcome_conflict')
  thenRejects(t, () => decide({ redeemId, outcome: { type: 'transfer_failed', failure } }, completed), 'outcome_conflict')
  const failedEarly = run({ type: 'transfer_failed', failure })
  thenRejects(t, () => decide({ redeemId, outcome: { type: 'transfer_completed', circleTransferId: 'ct-1' } }, failedEarly), 'outcome_conflict')
  thenRejects(t, () => decide({ redeemId, outcome: { type: 'payout_completed', circlePayoutId: 'po-1' } }, failedEarly), 'outcome_conflict')
  const requested = run()
  thenRejects(t, () => decide({ redeemId, outcome: { type: 'payout_submitted', circlePayoutId: 'po-1' } }, requested), 'invalid_transition', 'no payout before step 1')
  thenRejects(t, () => decide({ redeemId, outcome: { type: 'compensation_submitted', circleTransferId: 'x' } }, requested), 'invalid_transition')
  thenRejects(t, () => decide({ redeemId, outcome: { type: 'transfer_submitted', circleTransferId: 'x' } }, { redeem: given(redeem, []), wallet: given(wallet, []) }), 'not_found')
})
