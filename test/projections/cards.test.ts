import { randomUUID } from 'node:crypto'
import t from 'tap'
import { cards } from '../../src/projections/cards.ts'
import { readDocument } from '../../src/projections/document.ts'
import { attentionCycle, projectionSpec } from '../helpers/projection.ts'

t.test('card rows follow issue, freeze, unfreeze, issuer changes and close', async (t) => {
  const spec = await projectionSpec(t)
  const { db, record, apply, coveredAll } = spec
  const [walletId, cardId, refused] = [randomUUID(), randomUUID(), randomUUID()]
  const s = `card-${cardId}`
  const status = async () => (await db.selectFrom('cards').select('status').where('id', '=', cardId).executeTakeFirstOrThrow()).status
  await apply(cards.projection, [
    record(s, { type: 'CardRequested', data: { cardId, walletId, cardholderName: 'Ada Lovelace' } }),
    record(s, { type: 'CardIssued', data: { cardId, issuerCardId: 'iss-1', last4: '4242', expMonth: 12, expYear: 2030, network: 'VISA' } }),
    record(`card-${refused}`, { type: 'CardRequested', data: { cardId: refused, walletId, cardholderName: 'B' } }),
    record(`card-${refused}`, { type: 'CardIssueFailed', data: { cardId: refused, failure: { code: 'issuer_refused', message: 'no' } } }),
  ])
  t.equal(await status(), 'active')
  await apply(cards.projection, [record(s, { type: 'CardActionRequested', data: { cardId, action: 'freeze', reason: 'lost' } })])
  t.match((await readDocument(db, cards, cardId))!.state, { status: 'active', pendingAction: 'freeze' }, 'a pending action shows while the card is unchanged')
  await apply(cards.projection, [record(s, { type: 'CardActionFailed', data: { cardId, action: 'freeze', failure: { code: 'issuer_refused', message: 'no' } } })])
  t.equal((await readDocument(db, cards, cardId))!.state.pendingAction, undefined, 'a refused pending action is cleared')
  await apply(cards.projection, [record(s, { type: 'CardFrozen', data: { cardId, reason: 'lost' } })])
  t.equal(await status(), 'frozen')
  await apply(cards.projection, [record(s, { type: 'CardUnfrozen', data: { cardId } })])
  t.equal(await status(), 'active')
  await apply(cards.projection, [record(s, { type: 'CardStatusChanged', data: { cardId, status: 'frozen' } })])
  t.equal(await status(), 'frozen')
  await apply(cards.projection, [record(s, { type: 'CardClosed', data: { cardId } })])
  t.equal(await status(), 'closed')
  t.match((await readDocument(db, cards, cardId))!.state, { last4: '4242', issuerCardId: 'iss-1' })
  t.equal((await db.selectFrom('cards').select('status').where('id', '=', refused).executeTakeFirstOrThrow()).status, 'failed')
  await attentionCycle(t, spec, cards, cardId)
  coveredAll(t, cards.projection)
})
