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
  t.same(freezeCard.decide({ cardId, reason: 'lost' }, at(issuedCard())).card, [{ type: 'CardFrozen', data: { cardId, reason: 'lost' } }])
  t.same(freezeCard.decide({ cardId }, at(frozen)).card, [], 'freezing twice appends nothing')
})

t.test('freeze: unknown, pending, failed or closed cards are rejected', async (t) => {
  thenRejects(t, () => freezeCard.decide({ cardId }, at([])), 'not_found')
  thenRejects(t, () => freezeCard.decide({ cardId }, at(pending)), 'card_not_active')
  thenRejects(t, () => freezeCard.decide({ cardId }, at(failed)), 'card_not_active')
  thenRejects(t, () => freezeCard.decide({ cardId }, at(closed)), 'card_closed')
})

t.test('unfreeze: a frozen card becomes active; an active one stays as it is', async (t) => {
  t.same(unfreezeCard.decide({ cardId }, at(frozen)).card, [{ type: 'CardUnfrozen', data: { cardId } }])
  t.same(unfreezeCard.decide({ cardId }, at(issuedCard())).card, [])
})

t.test('unfreeze: unknown, pending or closed cards are rejected', async (t) => {
  thenRejects(t, () => unfreezeCard.decide({ cardId }, at([])), 'not_found')
  thenRejects(t, () => unfreezeCard.decide({ cardId }, at(pending)), 'card_not_frozen')
  thenRejects(t, () => unfreezeCard.decide({ cardId }, at(closed)), 'card_closed')
})

t.test('close: active and frozen cards close for good; closing twice appends nothing', async (t) => {
  t.same(closeCard.decide({ cardId, reason: 'customer request' }, at(issuedCard())).card, [
    { type: 'CardClosed', data: { cardId, reason: 'customer request' } },
  ])
  t.same(closeCard.decide({ cardId }, at(frozen)).card, [{ type: 'CardClosed', data: { cardId } }])
  t.same(closeCard.decide({ cardId }, at(closed)).card, [])
  thenRejects(t, () => freezeCard.decide({ cardId }, at(closed)), 'card_closed', 'no transition out of closed')
})

t.test('close: unknown, pending or failed cards are rejected', async (t) => {
  thenRejects(t, () => closeCard.decide({ cardId }, at([])), 'not_found')
  thenRejects(t, () => closeCard.decide({ cardId }, at(pending)), 'card_not_active')
  thenRejects(t, () => closeCard.decide({ cardId }, at(failed)), 'card_not_active')
})
