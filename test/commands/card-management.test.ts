import t from 'tap'
import { closeCard } from '../../src/commands/close-card.ts'
import { freezeCard } from '../../src/commands/freeze-card.ts'
import { unfreezeCard } from '../../src/commands/unfreeze-card.ts'
import { card, type CardEvent } from '../../src/events/card.ts'
import { spec, stateOf } from '../helpers/spec.ts'
import { ids, issuedCard } from '../helpers/fixtures.ts'

const cardId = ids.card
const pending: CardEvent[] = issuedCard().slice(0, 1)
const frozen: CardEvent[] = [...issuedCard(), { type: 'CardFrozen', data: { cardId } }]
const closed: CardEvent[] = [...issuedCard(), { type: 'CardClosed', data: { cardId } }]
const failed: CardEvent[] = [...pending, { type: 'CardIssueFailed', data: { cardId, failure: { code: 'declined', message: 'no' } } }]

t.test('freeze: an active card freezes; a frozen one stays as it is', async (t) => {
  spec(t, freezeCard).given({ card: issuedCard() }).when({ cardId, reason: 'lost', issuer: 'confirmed' }).then({ card: [{ type: 'CardFrozen', data: { cardId, reason: 'lost' } }] })
  spec(t, freezeCard).given({ card: frozen }).when({ cardId, issuer: 'confirmed' }).thenNothing('freezing twice appends nothing')
})

t.test('freeze: unknown, pending, failed or closed cards are rejected', async (t) => {
  spec(t, freezeCard).when({ cardId, issuer: 'confirmed' }).thenRejects('not_found')
  spec(t, freezeCard).given({ card: pending }).when({ cardId, issuer: 'confirmed' }).thenRejects('card_not_active')
  spec(t, freezeCard).given({ card: failed }).when({ cardId, issuer: 'confirmed' }).thenRejects('card_not_active')
  spec(t, freezeCard).given({ card: closed }).when({ cardId, issuer: 'confirmed' }).thenRejects('card_closed')
})

t.test('unfreeze: a frozen card becomes active; an active one stays as it is', async (t) => {
  spec(t, unfreezeCard).given({ card: frozen }).when({ cardId, issuer: 'confirmed' }).then({ card: [{ type: 'CardUnfrozen', data: { cardId } }] })
  spec(t, unfreezeCard).given({ card: issuedCard() }).when({ cardId, issuer: 'confirmed' }).thenNothing()
})

t.test('unfreeze: unknown, pending or closed cards are rejected', async (t) => {
  spec(t, unfreezeCard).when({ cardId, issuer: 'confirmed' }).thenRejects('not_found')
  spec(t, unfreezeCard).given({ card: pending }).when({ cardId, issuer: 'confirmed' }).thenRejects('card_not_frozen')
  spec(t, unfreezeCard).given({ card: closed }).when({ cardId, issuer: 'confirmed' }).thenRejects('card_closed')
})

t.test('close: active and frozen cards close for good; closing twice appends nothing', async (t) => {
  spec(t, closeCard)
    .given({ card: issuedCard() })
    .when({ cardId, reason: 'customer request', issuer: 'confirmed' })
    .then({ card: [{ type: 'CardClosed', data: { cardId, reason: 'customer request' } }] })
  spec(t, closeCard).given({ card: frozen }).when({ cardId, issuer: 'confirmed' }).then({ card: [{ type: 'CardClosed', data: { cardId } }] })
  spec(t, closeCard).given({ card: closed }).when({ cardId, issuer: 'confirmed' }).thenNothing()
  spec(t, freezeCard).given({ card: closed }).when({ cardId, issuer: 'confirmed' }).thenRejects('card_closed', 'no transition out of closed')
})

t.test('close: unknown, pending or failed cards are rejected', async (t) => {
  spec(t, closeCard).when({ cardId, issuer: 'confirmed' }).thenRejects('not_found')
  spec(t, closeCard).given({ card: pending }).when({ cardId, issuer: 'confirmed' }).thenRejects('card_not_active')
  spec(t, closeCard).given({ card: failed }).when({ cardId, issuer: 'confirmed' }).thenRejects('card_not_active')
})

t.test('an action the issuer did not confirm is recorded as pending, once; the status does not move', async (t) => {
  const pendingFreeze =
    spec(t, freezeCard)
      .given({ card: issuedCard() })
      .when({ cardId, reason: 'stolen', issuer: 'pending' })
      .then({ card: [{ type: 'CardActionRequested', data: { cardId, action: 'freeze', reason: 'stolen' } }] }).card ?? []
  const requested = [...issuedCard(), ...pendingFreeze]
  const state = stateOf(card, requested)
  t.equal(state.status, 'active', 'not frozen until the issuer confirms')
  t.equal(state.pendingAction, 'freeze')
  spec(t, freezeCard).given({ card: requested }).when({ cardId, issuer: 'pending' }).thenNothing('asking again while pending appends nothing')
  spec(t, freezeCard).given({ card: requested }).when({ cardId, issuer: 'confirmed' }).then({ card: [{ type: 'CardFrozen', data: { cardId } }] }, 'a later confirmation lands it')
  const frozenState = stateOf(card, [...requested, { type: 'CardFrozen', data: { cardId } }])
  t.equal(frozenState.status, 'frozen')
  t.equal(frozenState.pendingAction, undefined, 'a confirmation clears the pending action')
})

t.test('a confirmed action supersedes a different pending one, even where the status already matches', async (t) => {
  spec(t, freezeCard)
    .given({ card: [...frozen, { type: 'CardActionRequested', data: { cardId, action: 'unfreeze' } }] })
    .when({ cardId, issuer: 'confirmed' })
    .then({ card: [{ type: 'CardFrozen', data: { cardId } }] }, 'the card is frozen and the unfreeze no longer pending')
  const closedPending = stateOf(card, [...issuedCard(), { type: 'CardActionRequested', data: { cardId, action: 'freeze' } }, { type: 'CardStatusChanged', data: { cardId, status: 'closed' } }])
  t.equal(closedPending.pendingAction, undefined, 'closed at the issuer: nothing is pending any more')
})
