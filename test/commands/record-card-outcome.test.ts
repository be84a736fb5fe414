import t from 'tap'
import { decide } from '../../src/commands/record-card-outcome.ts'
import { card, type CardEvent } from '../../src/events/card.ts'
import { given, thenRejects } from '../helpers/decider.ts'
import { ids, issuedCard } from '../helpers/fixtures.ts'

const cardId = ids.card
const issued = { type: 'issued' as const, issuerCardId: 'iss-1', last4: '4242', expMonth: 12, expYear: 2029, network: 'VISA' }
const failure = { code: 'issuer_declined', message: 'declined' }
const pending = issuedCard().slice(0, 1)
const at = (events: CardEvent[]) => ({ card: given(card, events) })

t.test('a requested card is issued or fails', async (t) => {
  t.same(decide({ cardId, outcome: issued }, at(pending)).card, [{ type: 'CardIssued', data: { cardId, issuerCardId: 'iss-1', last4: '4242', expMonth: 12, expYear: 2029, network: 'VISA' } }])
  t.same(decide({ cardId, outcome: { type: 'failed', failure } }, at(pending)).card, [{ type: 'CardIssueFailed', data: { cardId, failure } }])
})

t.test('the issuer changes an issued card status', async (t) => {
  t.same(decide({ cardId, outcome: { type: 'status_changed', status: 'frozen', reason: 'fraud' } }, at(issuedCard())).card, [
    { type: 'CardStatusChanged', data: { cardId, status: 'frozen', reason: 'fraud' } },
  ])
})

t.test('repeats append nothing; contradictions are rejected', async (t) => {
  t.same(decide({ cardId, outcome: issued }, at(issuedCard())).card, [])
  t.same(decide({ cardId, outcome: { type: 'status_changed', status: 'active' } }, at(issuedCard())).card, [])
  thenRejects(t, () => decide({ cardId, outcome: { ...issued, issuerCardId: 'iss-2' } }, at(issuedCard())), 'outcome_conflict')
  thenRejects(t, () => decide({ cardId, outcome: { type: 'failed', failure } }, at(issuedCard())), 'outcome_conflict')
  const closed: CardEvent[] = [...issuedCard(), { type: 'CardClosed', data: { cardId } }]
  thenRejects(t, () => decide({ cardId, outcome: { type: 'status_changed', status: 'active' } }, at(closed)), 'outcome_conflict', 'no way out of closed')
  thenRejects(t, () => decide({ cardId, outcome: { type: 'status_changed', status: 'frozen' } }, at(pending)), 'invalid_transition')
  thenRejects(t, () => decide({ cardId, outcome: issued }, at([])), 'not_found')
  const failed: CardEvent[] = [...pending, { type: 'CardIssueFailed', data: { cardId, failure } }]
  t.same(decide({ cardId, outcome: { type: 'failed', failure } }, at(failed)).card, [])
})

t.test('a pending card action lands when the issuer confirms it, or fails with the issuer’s refusal', async (t) => {
  const pendingFreeze = [...issuedCard(), { type: 'CardActionRequested' as const, data: { cardId, action: 'freeze' as const, reason: 'stolen' } }]
  t.same(decide({ cardId, outcome: { type: 'action_confirmed', action: 'freeze' } }, at(pendingFreeze)).card, [{ type: 'CardFrozen', data: { cardId, reason: 'stolen' } }], 'the pending reason is kept')
  t.same(decide({ cardId, outcome: { type: 'action_failed', action: 'freeze', failure } }, at(pendingFreeze)).card, [{ type: 'CardActionFailed', data: { cardId, action: 'freeze', failure } }])
  const after = given(card, [...pendingFreeze, { type: 'CardActionFailed', data: { cardId, action: 'freeze', failure } }])
  t.equal(after.status, 'active', 'the card stays as it was')
  t.equal(after.pendingAction, undefined)
  t.same(after.actionFailure, { action: 'freeze', failure })
  t.same(decide({ cardId, outcome: { type: 'action_confirmed', action: 'freeze' } }, at(issuedCard())).card, [], 'nothing pending: nothing lands')
  t.same(decide({ cardId, outcome: { type: 'action_confirmed', action: 'close' } }, at(pendingFreeze)).card, [], 'a superseded action does not land')
})
