import t, { type Test } from 'tap'
import { recordCardOutcome, type RecordCardOutcome } from '../../src/commands/record-card-outcome.ts'
import { card, type CardEvent } from '../../src/events/card.ts'
import { spec, stateOf } from '../helpers/spec.ts'
import { ids, issuedCard } from '../helpers/fixtures.ts'

const cardId = ids.card
const issued = { type: 'issued' as const, issuerCardId: 'iss-1', last4: '4242', expMonth: 12, expYear: 2029, network: 'VISA' }
const failure = { code: 'issuer_declined', message: 'declined' }
const pending = issuedCard().slice(0, 1)
/** The card's past events, then an outcome. */
const at = (t: Test, events: CardEvent[], outcome: RecordCardOutcome['outcome']) => spec(t, recordCardOutcome).given({ card: events }).when({ cardId, outcome })

t.test('a requested card is issued or fails', async (t) => {
  at(t, pending, issued).then({ card: [{ type: 'CardIssued', data: { cardId, issuerCardId: 'iss-1', last4: '4242', expMonth: 12, expYear: 2029, network: 'VISA' } }] })
  at(t, pending, { type: 'failed', failure }).then({ card: [{ type: 'CardIssueFailed', data: { cardId, failure } }] })
})

t.test('the issuer changes an issued card status', async (t) => {
  at(t, issuedCard(), { type: 'status_changed', status: 'frozen', reason: 'fraud' }).then({
    card: [{ type: 'CardStatusChanged', data: { cardId, status: 'frozen', reason: 'fraud' } }],
  })
})

t.test('repeats append nothing; contradictions are rejected', async (t) => {
  at(t, issuedCard(), issued).thenNothing()
  at(t, issuedCard(), { type: 'status_changed', status: 'active' }).thenNothing()
  at(t, issuedCard(), { ...issued, issuerCardId: 'iss-2' }).thenRejects('outcome_conflict')
  at(t, issuedCard(), { type: 'failed', failure }).thenRejects('outcome_conflict')
  const closed: CardEvent[] = [...issuedCard(), { type: 'CardClosed', data: { cardId } }]
  at(t, closed, { type: 'status_changed', status: 'active' }).thenRejects('outcome_conflict', 'no way out of closed')
  at(t, pending, { type: 'status_changed', status: 'frozen' }).thenRejects('invalid_transition')
  at(t, [], issued).thenRejects('not_found')
  const failed: CardEvent[] = [...pending, { type: 'CardIssueFailed', data: { cardId, failure } }]
  at(t, failed, { type: 'failed', failure }).thenNothing()
})

t.test('a pending card action lands when the issuer confirms it, or fails with the issuer’s refusal', async (t) => {
  const pendingFreeze = [...issuedCard(), { type: 'CardActionRequested' as const, data: { cardId, action: 'freeze' as const, reason: 'stolen' } }]
  at(t, pendingFreeze, { type: 'action_confirmed', action: 'freeze' }).then({ card: [{ type: 'CardFrozen', data: { cardId, reason: 'stolen' } }] }, 'the pending reason is kept')
  at(t, pendingFreeze, { type: 'action_failed', action: 'freeze', failure }).then({ card: [{ type: 'CardActionFailed', data: { cardId, action: 'freeze', failure } }] })
  const after = stateOf(card, [...pendingFreeze, { type: 'CardActionFailed', data: { cardId, action: 'freeze', failure } }])
  t.equal(after.status, 'active', 'the card stays as it was')
  t.equal(after.pendingAction, undefined)
  t.same(after.actionFailure, { action: 'freeze', failure })
  at(t, issuedCard(), { type: 'action_confirmed', action: 'freeze' }).thenNothing('nothing pending: nothing lands')
  at(t, pendingFreeze, { type: 'action_confirmed', action: 'close' }).thenNothing('a superseded action does not land')
})
