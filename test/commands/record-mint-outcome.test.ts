import t, { type Test } from 'tap'
import { recordMintOutcome, type RecordMintOutcome } from '../../src/commands/record-mint-outcome.ts'
import { mint, type MintEvent } from '../../src/events/mint.ts'
import { available, wallet } from '../../src/events/wallet.ts'
import { spec, stateOf } from '../helpers/spec.ts'
import { activeWallet, ids, usd } from '../helpers/fixtures.ts'

const mintId = ids.mint
const requested: MintEvent[] = [{ type: 'MintRequested', data: { mintId, walletId: ids.wallet, amount: '25000000' } }]
const submitted: MintEvent[] = [...requested, { type: 'MintSubmitted', data: { mintId, circleTransferId: 'ct-1' } }]
const failure = { code: 'insufficient_treasury_balance', message: 'treasury short' }
/** The mint's past events (its wallet active), then an outcome; an unknown mint names no wallet to read. */
const at = (t: Test, events: MintEvent[], outcome: RecordMintOutcome['outcome']) =>
  spec(t, recordMintOutcome)
    .given(events.length > 0 ? { mint: events, wallet: activeWallet() } : {})
    .when({ mintId, outcome })

t.test('a mint is submitted, then completes and credits the wallet in the same decision', async (t) => {
  at(t, requested, { type: 'submitted', circleTransferId: 'ct-1' }).then({ mint: [{ type: 'MintSubmitted', data: { mintId, circleTransferId: 'ct-1' } }] })
  const done = at(t, submitted, { type: 'completed', circleTransferId: 'ct-1' }).then({
    mint: [{ type: 'MintCompleted', data: { mintId, circleTransferId: 'ct-1' } }],
    wallet: [{ type: 'FundsCredited', data: { walletId: ids.wallet, operationId: mintId, amount: '25000000', source: 'mint' } }],
  })
  t.equal(available(stateOf(wallet, [...activeWallet(), ...(done.wallet ?? [])])), usd('25'))
})

t.test('a mint fails from pending (treasury short) or processing', async (t) => {
  at(t, requested, { type: 'failed', failure }).then({ mint: [{ type: 'MintFailed', data: { mintId, failure } }] })
  at(t, submitted, { type: 'failed', failure }).then({ mint: [{ type: 'MintFailed', data: { mintId, failure } }] })
})

t.test('duplicate outcomes append nothing', async (t) => {
  const completed: MintEvent[] = [...submitted, { type: 'MintCompleted', data: { mintId, circleTransferId: 'ct-1' } }]
  at(t, completed, { type: 'completed', circleTransferId: 'ct-1' }).thenNothing()
  at(t, submitted, { type: 'submitted', circleTransferId: 'ct-1' }).thenNothing()
  at(t, completed, { type: 'submitted', circleTransferId: 'ct-1' }).thenNothing('a late submission report')
  const failed: MintEvent[] = [...requested, { type: 'MintFailed', data: { mintId, failure } }]
  at(t, failed, { type: 'failed', failure }).thenNothing()
})

t.test('an outcome contradicting a terminal state is rejected, never applied', async (t) => {
  const completed: MintEvent[] = [...submitted, { type: 'MintCompleted', data: { mintId, circleTransferId: 'ct-1' } }]
  const failed: MintEvent[] = [...requested, { type: 'MintFailed', data: { mintId, failure } }]
  at(t, completed, { type: 'failed', failure }).thenRejects('outcome_conflict')
  at(t, failed, { type: 'completed', circleTransferId: 'ct-1' }).thenRejects('outcome_conflict')
  at(t, failed, { type: 'submitted', circleTransferId: 'ct-1' }).thenRejects('outcome_conflict')
  at(t, submitted, { type: 'completed', circleTransferId: 'ct-other' }).thenRejects('outcome_conflict', 'another Circle transfer')
  at(t, [], { type: 'submitted', circleTransferId: 'ct-1' }).thenRejects('not_found')
})

t.test('the treasury check is recorded once, before submission', async (t) => {
  at(t, requested, { type: 'treasury_checked', treasuryAvailable: usd('500') }).then({ mint: [{ type: 'MintTreasuryChecked', data: { mintId, treasuryAvailable: '500000000' } }] })
  const checked: MintEvent[] = [...requested, { type: 'MintTreasuryChecked', data: { mintId, treasuryAvailable: '500000000' } }]
  t.equal(stateOf(mint, checked).treasuryChecked, true)
  t.equal(stateOf(mint, checked).status, 'pending')
  at(t, checked, { type: 'treasury_checked', treasuryAvailable: usd('1') }).thenNothing('a repeat appends nothing')
  at(t, submitted, { type: 'treasury_checked', treasuryAvailable: usd('1') }).thenRejects('invalid_transition')
})
