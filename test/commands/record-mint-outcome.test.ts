import t from 'tap'
import { decide } from '../../src/commands/record-mint-outcome.ts'
import { mint, type MintEvent } from '../../src/events/mint.ts'
import { available, wallet } from '../../src/events/wallet.ts'
import { given, thenRejects } from '../helpers/decider.ts'
import { activeWallet, ids, usd } from '../helpers/fixtures.ts'

const mintId = ids.mint
const requested: MintEvent[] = [{ type: 'MintRequested', data: { mintId, walletId: ids.wallet, amount: '25000000' } }]
const submitted: MintEvent[] = [...requested, { type: 'MintSubmitted', data: { mintId, circleTransferId: 'ct-1' } }]
const failure = { code: 'insufficient_treasury_balance', message: 'treasury short' }
const at = (events: MintEvent[], walletEvents = activeWallet()) => ({ mint: given(mint, events), wallet: given(wallet, walletEvents) })

t.test('a mint is submitted, then completes and credits the wallet in the same decision', async (t) => {
  t.same(decide({ mintId, outcome: { type: 'submitted', circleTransferId: 'ct-1' } }, at(requested)).mint, [
    { type: 'MintSubmitted', data: { mintId, circleTransferId: 'ct-1' } },
  ])
  const done = decide({ mintId, outcome: { type: 'completed', circleTransferId: 'ct-1' } }, at(submitted))
  t.same(done.mint, [{ type: 'MintCompleted', data: { mintId, circleTransferId: 'ct-1' } }])
  t.same(done.wallet, [{ type: 'FundsCredited', data: { walletId: ids.wallet, operationId: mintId, amount: '25000000', source: 'mint' } }])
  t.equal(available(done.wallet!.reduce(wallet.evolve, given(wallet, activeWallet()))), usd('25'))
})

t.test('a mint fails from pending (treasury short) or processing', async (t) => {
  t.same(decide({ mintId, outcome: { type: 'failed', failure } }, at(requested)).mint, [{ type: 'MintFailed', data: { mintId, failure } }])
  t.same(decide({ mintId, outcome: { type: 'failed', failure } }, at(submitted)).mint, [{ type: 'MintFailed', data: { mintId, failure } }])
})

t.test('duplicate outcomes append nothing', async (t) => {
  const completed: MintEvent[] = [...submitted, { type: 'MintCompleted', data: { mintId, circleTransferId: 'ct-1' } }]
  t.same(decide({ mintId, outcome: { type: 'completed', circleTransferId: 'ct-1' } }, at(completed)).mint, [])
  t.same(decide({ mintId, outcome: { type: 'submitted', circleTransferId: 'ct-1' } }, at(submitted)).mint, [])
  t.same(decide({ mintId, outcome: { type: 'submitted', circleTransferId: 'ct-1' } }, at(completed)).mint, [], 'a late submission report')
  const failed: MintEvent[] = [...requested, { type: 'MintFailed', data: { mintId, failure } }]
  t.same(decide({ mintId, outcome: { type: 'failed', failure } }, at(failed)).mint, [])
})

t.test('an outcome contradicting a terminal state is rejected, never applied', async (t) => {
  const completed: MintEvent[] = [...submitted, { type: 'MintCompleted', data: { mintId, circleTransferId: 'ct-1' } }]
  const failed: MintEvent[] = [...requested, { type: 'MintFailed', data: { mintId, failure } }]
  thenRejects(t, () => decide({ mintId, outcome: { type: 'failed', failure } }, at(completed)), 'outcome_conflict')
  thenRejects(t, () => decide({ mintId, outcome: { type: 'completed', circleTransferId: 'ct-1' } }, at(failed)), 'outcome_conflict')
  thenRejects(t, () => decide({ mintId, outcome: { type: 'submitted', circleTransferId: 'ct-1' } }, at(failed)), 'outcome_conflict')
  thenRejects(t, () => decide({ mintId, outcome: { type: 'completed', circleTransferId: 'ct-other' } }, at(submitted)), 'outcome_conflict', 'another Circle transfer')
  thenRejects(t, () => decide({ mintId, outcome: { type: 'submitted', circleTransferId: 'ct-1' } }, at([])), 'not_found')
})

t.test('the treasury check is recorded once, before submission', async (t) => {
  t.same(decide({ mintId, outcome: { type: 'treasury_checked', treasuryAvailable: usd('500') } }, at(requested)).mint, [
    { type: 'MintTreasuryChecked', data: { mintId, treasuryAvailable: '500000000' } },
  ])
  const checked: MintEvent[] = [...requested, { type: 'MintTreasuryChecked', data: { mintId, treasuryAvailable: '500000000' } }]
  t.equal(given(mint, checked).treasuryChecked, true)
  t.equal(given(mint, checked).status, 'pending')
  t.same(decide({ mintId, outcome: { type: 'treasury_checked', treasuryAvailable: usd('1') } }, at(checked)).mint, [], 'a repeat appends nothing')
  thenRejects(t, () => decide({ mintId, outcome: { type: 'treasury_checked', treasuryAvailable: usd('1') } }, at(submitted)), 'invalid_transition')
})
