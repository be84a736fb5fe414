import t from 'tap'
import * as closeCard from '../../src/commands/close-card.ts'
import * as freezeCard from '../../src/commands/freeze-card.ts'
import * as unfreezeCard from '../../src/commands/unfreeze-card.ts'
import { card, type CardEvent } from '../../src/events/card.ts'
import { given, thenRejects } from '../helpers/decider.ts'
import { ids, issuedCard } from '../helpers/fixtures.ts'

const cardId = ids.card
const pending: CardEvent[] = issuedCard().slice(0, 1)
const frozen: CardEvent[] = [...issuedCard(), { type: 'CardFrozen', data: { cardId } }]
const closed: CardEvent[] = [...issuedCard(), { type: 'CardClosed', data: { cardId } }]
const failed: CardEvent[] = [...pending, { type: 'CardIssueFailed', data: { cardId, failure: { code: 'declined', message: 'no' } } }]
const at = (events: CardEvent[]) => ({ card: given(card, events) })

t.test('freeze: an active card freezes; a frozen one stays as it is', async (t) => {
  t.same(freezeCard.decide({ cardId, reason: 'lost', issuer: 'confirmed' }, at(issuedCard())).card, [{ type: 'CardFrozen', data: { cardId, reason: 'lost' } }])
  t.same(freezeCard.decide({ cardId, issuer: 'confirmed' }, at(frozen)).card, [], 'freezing twice appends nothing')
})

t.test('freeze: unknown, pending, failed or closed cards are rejected', async (t) => {
  thenRejects(t, () => freezeCard.decide({ cardId, issuer: 'confirmed' }, at([])), 'not_found')
  thenRejects(t, () => freezeCard.decide({ cardId, issuer: 'confirmed' }, at(pending)), 'card_not_active')
  thenRejects(t, () => freezeCard.decide({ cardId, issuer: 'confirmed' }, at(failed)), 'card_not_active')
  thenRejects(t, () => freezeCard.decide({ cardId, issuer: 'confirmed' }, at(closed)), 'card_closed')
})

t.test('unfreeze: a frozen card becomes active; an active one stays as it is', async (t) => {
  t.same(unfreezeCard.decide({ cardId, issuer: 'confirmed' }, at(frozen)).card, [{ type: 'CardUnfrozen', data: { cardId } }])
  t.same(unfreezeCard.decide({ cardId, issuer: 'confirmed' }, at(issuedCard())).card, [])
})

t.test('unfreeze: unknown, pending or closed cards are rejected', async (t) => {
  thenRejects(t, () => unfreezeCard.decide({ cardId, issuer: 'confirmed' }, at([])), 'not_found')
  thenRejects(t, () => unfreezeCard.decide({ cardId, issuer: 'confirmed' }, at(pending)), 'card_not_frozen')
  thenRejects(t, () => unfreezeCard.decide({ cardId, issuer: 'confirmed' }, at(closed)), 'card_closed')
})

t.test('close: active and frozen cards close for good; closing twice appends nothing', async (t) => {
  t.same(closeCard.decide({ cardId, reason: 'customer request', issuer: 'confirmed' }, at(issuedCard())).card, [
    { type: 'CardClosed', data: { cardId, reason: 'customer request' } },
  ])
  t.same(closeCard.decide({ cardId, issuer: 'confirmed' }, at(frozen)).card, [{ type: 'CardClosed', data: { cardId } }])
  t.same(closeCard.decide({ cardId, issuer: 'confirmed' }, at(closed)).card, [])
  thenRejects(t, () => freezeCard.decide({ cardId, issuer: 'confirmed' }, at(closed)), 'card_closed', 'no transition out of closed')
})

t.test('close: unknown, pending or failed cards are rejected', async (t) => {
  thenRejects(t, () => closeCard.decide({ cardId, issuer: 'confirmed' }, at([])), 'not_found')
  thenRejects(t, () => closeCard.decide({ cardId, issuer: 'confirmed' }, at(pending)), 'card_not_active')
  thenRejects(t, () => closeCard.decide({ cardId, issuer: 'confirmed' }, at(failed)), 'card_not_active')
})

t.test('an action the issuer did not confirm is recorded as pending, once; the status does not move', async (t) => {
  const pendingFreeze = freezeCard.decide({ cardId, reason: 'stolen', issuer: 'pending' }, at(issuedCard())).card
  t.same(pendingFreeze, [{ type: 'CardActionRequested', data: { cardId, action: 'freeze', reason: 'stolen' } }])
  const state = given(card, [...issuedCard(), ...pendingFreeze])
  t.equal(state.status, 'active', 'not frozen until the issuer confirms')
  t.equal(state.pendingAction, 'freeze')
  t.same(freezeCard.decide({ cardId, issuer: 'pending' }, { card: state }).card, [], 'asking again while pending appends nothing')
  t.same(freezeCard.decide({ cardId, issuer: 'confirmed' }, { card: state }).card, [{ type: 'CardFrozen', data: { cardId } }], 'a later confirmation lands it')
  const frozenState = given(card, [...issuedCard(), ...pendingFreeze, { type: 'CardFrozen', data: { cardId } }])
  t.equal(frozenState.status, 'frozen')
  t.equal(frozenState.pendingAction, undefined, 'a confirmation clears the pending action')
})

t.test('a confirmed action supersedes a different pending one, even where the status already matches', async (t) => {
  const pendingUnfreeze = given(card, [...frozen, { type: 'CardActionRequested', data: { cardId, action: 'unfreeze' } }])
  t.same(freezeCard.decide({ cardId, issuer: 'confirmed' }, { card: pendingUnfreeze }).card, [{ type: 'CardFrozen', data: { cardId } }], 'the card is frozen and the unfreeze no longer pending')
  const closedPending = given(card, [...issuedCard(), { type: 'CardActionRequested', data: { cardId, action: 'freeze' } }, { type: 'CardStatusChanged', data: { cardId, status: 'closed' } }])
  t.equal(closedPending.pendingAction, undefined, 'closed at the issuer: nothing is pending any more')
})
