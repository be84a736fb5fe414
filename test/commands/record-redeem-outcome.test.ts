import t, { type Test } from 'tap'
import { recordRedeemOutcome, type RecordRedeemOutcome } from '../../src/commands/record-redeem-outcome.ts'
import { redeem, type RedeemEvent } from '../../src/events/redeem.ts'
import { available, reserved, wallet, type WalletEvent } from '../../src/events/wallet.ts'
import { spec, stateOf } from '../helpers/spec.ts'
import { activeWallet, ids, usd } from '../helpers/fixtures.ts'

const redeemId = ids.redeem
const walletId = ids.wallet
const failure = { code: 'bank_transaction_error', message: 'the bank refused the wire' }
const walletEvents: WalletEvent[] = [
  ...activeWallet(walletId, 'owner-1', usd('100')),
  { type: 'FundsReserved', data: { walletId, operationId: redeemId, amount: '40000000' } },
]

/** Runs outcomes in order from a fresh request, each decided on the events the ones before appended. */
function run(t: Test, ...outcomes: RecordRedeemOutcome['outcome'][]) {
  const given = { redeem: [{ type: 'RedeemRequested', data: { redeemId, walletId, bankAccountId: ids.bank, amount: '40000000' } }] as RedeemEvent[], wallet: [...walletEvents] }
  const appended: (RedeemEvent | WalletEvent)[] = []
  for (const outcome of outcomes) {
    const d = spec(t, recordRedeemOutcome).given(given).when({ redeemId, outcome }).decision()
    given.redeem.push(...(d.redeem ?? []))
    given.wallet.push(...(d.wallet ?? []))
    appended.push(...(d.redeem ?? []), ...(d.wallet ?? []))
  }
  return { redeem: stateOf(redeem, given.redeem), wallet: stateOf(wallet, given.wallet), appended, given }
}
/** An outcome recorded on the redeem as `run` left it. */
const after = (t: Test, history: ReturnType<typeof run>, outcome: RecordRedeemOutcome['outcome']) => spec(t, recordRedeemOutcome).given(history.given).when({ redeemId, outcome })

const happy: RecordRedeemOutcome['outcome'][] = [
  { type: 'transfer_submitted', circleTransferId: 'ct-1' },
  { type: 'transfer_completed', circleTransferId: 'ct-1' },
  { type: 'payout_submitted', circlePayoutId: 'po-1' },
  { type: 'payout_completed', circlePayoutId: 'po-1' },
]

t.test('both steps complete: the redeem completes and the reservation is debited', async (t) => {
  const { redeem: r, wallet: w, appended } = run(t, ...happy)
  t.equal(r.status, 'completed')
  t.same(appended.map((e) => e.type), ['RedeemTransferSubmitted', 'RedeemTransferCompleted', 'RedeemPayoutSubmitted', 'RedeemCompleted', 'FundsDebited'])
  t.equal(reserved(w), 0n)
  t.equal(available(w), usd('60'))
  t.equal(w.debited, usd('40'))
})

t.test('step 1 fails: the redeem fails and the reservation is released', async (t) => {
  const { redeem: r, wallet: w, appended } = run(t, { type: 'transfer_submitted', circleTransferId: 'ct-1' }, { type: 'transfer_failed', failure })
  t.equal(r.status, 'failed')
  t.same(appended.at(-1), { type: 'ReservationReleased', data: { walletId, operationId: redeemId, amount: '40000000' } })
  t.equal(available(w), usd('100'))
})

t.test('the payout fails after step 1: compensation, then failure with the funds back', async (t) => {
  const { redeem: r, wallet: w, appended } = run(
    t,
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
  const { redeem: r } = run(t, ...happy.slice(0, 3), { type: 'payout_failed', failure })
  t.equal(r.status, 'processing')
  t.equal(r.phase, 'compensation_due')
})

t.test('a completion webhook that overtakes our submission record records both', async (t) => {
  const { appended, redeem: r } = run(t, { type: 'transfer_completed', circleTransferId: 'ct-1' }, { type: 'payout_completed', circlePayoutId: 'po-1' })
  t.same(appended.map((e) => e.type), ['RedeemTransferSubmitted', 'RedeemTransferCompleted', 'RedeemPayoutSubmitted', 'RedeemCompleted', 'FundsDebited'])
  t.equal(r.circlePayoutId, 'po-1')
})

t.test('every repeated outcome appends nothing', async (t) => {
  const completed = run(t, ...happy)
  for (const outcome of happy) {
    after(t, completed, outcome).thenNothing(`repeat ${outcome.type}`)
  }
  const compensated = run(t, ...happy.slice(0, 3), { type: 'payout_failed', failure }, { type: 'compensation_completed', circleTransferId: 'ct-back' })
  for (const outcome of [{ type: 'payout_failed', failure }, { type: 'compensation_completed', circleTransferId: 'ct-back' }] as const) {
    after(t, compensated, outcome).thenNothing(`repeat ${outcome.type}`)
  }
  const failedEarly = run(t, { type: 'transfer_failed', failure })
  after(t, failedEarly, { type: 'transfer_failed', failure }).thenNothing()
})

t.test('contradictions and out-of-order outcomes are rejected', async (t) => {
  const completed = run(t, ...happy)
  after(t, completed, { type: 'payout_failed', failure }).thenRejects('outcome_conflict')
  after(t, completed, { type: 'transfer_failed', failure }).thenRejects('outcome_conflict')
  const failedEarly = run(t, { type: 'transfer_failed', failure })
  after(t, failedEarly, { type: 'transfer_completed', circleTransferId: 'ct-1' }).thenRejects('outcome_conflict')
  after(t, failedEarly, { type: 'payout_completed', circlePayoutId: 'po-1' }).thenRejects('outcome_conflict')
  const requested = run(t)
  after(t, requested, { type: 'payout_submitted', circlePayoutId: 'po-1' }).thenRejects('invalid_transition', 'no payout before step 1')
  after(t, requested, { type: 'compensation_submitted', circleTransferId: 'x' }).thenRejects('invalid_transition')
  spec(t, recordRedeemOutcome).when({ redeemId, outcome: { type: 'transfer_submitted', circleTransferId: 'x' } }).thenRejects('not_found')
})

t.test('a transfer back that failed at Circle: due again, its repeat appends nothing, any other transfer is refused; a second one brings the funds back', async (t) => {
  const compensationFailure = { code: 'compensation_failed', message: 'Circle failed the transfer back to the wallet' }
  const failedBack = run(t, ...happy.slice(0, 3), { type: 'payout_failed', failure }, { type: 'compensation_submitted', circleTransferId: 'ct-back-1' }, { type: 'compensation_failed', circleTransferId: 'ct-back-1', failure: compensationFailure })
  t.equal(failedBack.redeem.phase, 'compensation_due')
  t.equal(failedBack.redeem.status, 'processing')
  t.same(failedBack.redeem.failedCompensations, ['ct-back-1'])
  t.equal(failedBack.redeem.compensationTransferId, undefined, 'no transfer back under way')
  t.equal(reserved(failedBack.wallet), usd('40'), 'the funds stay reserved')
  t.same(failedBack.appended.filter((e) => e.type === 'RedeemCompensationFailed').map((e) => e.data), [{ redeemId, circleTransferId: 'ct-back-1', failure: compensationFailure }])
  after(t, failedBack, { type: 'compensation_failed', circleTransferId: 'ct-back-1', failure: compensationFailure }).thenNothing('its repeat')
  after(t, failedBack, { type: 'compensation_failed', circleTransferId: 'ct-other', failure: compensationFailure }).thenRejects('invalid_transition')

  // The first transfer back failed, a second one is under way.
  const toSecond: RecordRedeemOutcome['outcome'][] = [
    ...happy.slice(0, 3),
    { type: 'payout_failed', failure },
    { type: 'compensation_submitted', circleTransferId: 'ct-back-1' },
    { type: 'compensation_failed', circleTransferId: 'ct-back-1', failure: compensationFailure },
    { type: 'compensation_submitted', circleTransferId: 'ct-back-2' },
  ]
  after(t, run(t, ...toSecond), { type: 'compensation_failed', circleTransferId: 'ct-back-1', failure: compensationFailure }).thenNothing('the first failure reported late changes nothing')
  const back = run(t, ...toSecond, { type: 'compensation_completed', circleTransferId: 'ct-back-2' })
  t.equal(back.redeem.status, 'failed')
  t.same(back.redeem.failure, failure, 'the redeem failed for its payout')
  t.equal(available(back.wallet), usd('100'), 'all funds back in the wallet')
  t.equal(reserved(back.wallet), 0n)
})

t.test('only a replay after a failed transfer back lets the next one be sent; a later discard takes that back', async (t) => {
  const compensationFailure = { code: 'compensation_failed', message: 'Circle failed the transfer back to the wallet' }
  const failedBack = run(t, ...happy.slice(0, 3), { type: 'payout_failed', failure }, { type: 'compensation_submitted', circleTransferId: 'ct-back-1' }, { type: 'compensation_failed', circleTransferId: 'ct-back-1', failure: compensationFailure })
  const history = [...failedBack.given.redeem]
  const attention = (deadLetterId: string): RedeemEvent => ({ type: 'OperationNeedsAttention', data: { attention: 'compensation_failed', deadLetterId, error: 'e' } })
  const cleared = (deadLetterId: string, resolution: 'replayed' | 'discarded'): RedeemEvent => ({ type: 'OperationAttentionCleared', data: { deadLetterId, resolution } })
  t.notOk(stateOf(redeem, history).compensationReplayed, 'not before an admin acts')
  t.notOk(stateOf(redeem, [...history, attention('d1'), cleared('d1', 'discarded')]).compensationReplayed, 'a discard is no go-ahead')
  t.ok(stateOf(redeem, [...history, attention('d1'), cleared('d1', 'replayed')]).compensationReplayed, 'a replay is')
  t.notOk(stateOf(redeem, [...history, attention('d1'), cleared('d1', 'replayed'), attention('d2'), cleared('d2', 'discarded')]).compensationReplayed, 'a discard after it takes it back')
  t.notOk(stateOf(redeem, [...history, attention('d1'), cleared('d2', 'replayed')]).compensationReplayed, 'a replay of another dead letter changes nothing')
})
