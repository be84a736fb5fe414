import t from 'tap'
import { execute } from '../../../src/commands/handler.ts'
import { recordCardOutcome } from '../../../src/commands/record-card-outcome.ts'
import { fakeCardIssuer } from '../../helpers/app.ts'
import { meta } from '../../helpers/commands.ts'
import { httpHarness } from '../../helpers/http.ts'

async function issued(h: Awaited<ReturnType<typeof httpHarness>>) {
  const walletId = await h.activeWallet()
  const card = (await h.post('/cards', { walletId, cardholderName: 'Ada Lovelace' })).json()
  await execute(h.store, recordCardOutcome, { cardId: card.id, outcome: { type: 'issued', issuerCardId: 'iss-1', last4: '4242', expMonth: 12, expYear: 2030, network: 'VISA' } }, meta())
  await h.settle()
  return card.id as string
}

t.test('POST /cards answers 202 pending; once issued GET shows only the last 4 digits', async (t) => {
  const h = await httpHarness(t)
  const walletId = await h.activeWallet()
  const res = await h.post('/cards', { walletId, cardholderName: 'Ada Lovelace' })
  t.equal(res.statusCode, 202)
  t.match(res.json(), { walletId, status: 'pending' })
  t.same((await h.get(res.headers.location as string)).json(), res.json())
  await execute(h.store, recordCardOutcome, { cardId: res.json().id, outcome: { type: 'issued', issuerCardId: 'iss-1', last4: '4242', expMonth: 12, expYear: 2030, network: 'VISA' } }, meta())
  await h.settle()
  t.match((await h.get(res.headers.location as string)).json(), { status: 'active', last4: '4242', expMonth: 12, expYear: 2030, network: 'VISA' })
})

t.test('freeze, unfreeze and close move the card; repeats are harmless', async (t) => {
  const h = await httpHarness(t)
  const cardId = await issued(h)
  const act = (action: string) => h.client.call({ method: 'POST', url: `/cards/${cardId}/${action}`, headers: { authorization: 'Bearer dev-backend-key' } })
  t.equal((await act('freeze')).json().status, 'frozen')
  t.equal((await act('freeze')).json().status, 'frozen', 'freezing twice is fine')
  t.equal((await act('unfreeze')).json().status, 'active')
  const closed = await h.client.call({ method: 'POST', url: `/cards/${cardId}/close`, payload: { reason: 'lost' }, headers: { authorization: 'Bearer dev-backend-key' } })
  t.equal(closed.statusCode, 200)
  t.equal(closed.json().status, 'closed')
  const refrozen = await act('freeze')
  t.equal(refrozen.statusCode, 422)
  t.equal(refrozen.json().error.code, 'card_closed')
})

t.test('managing an unknown card is 404; a pending card cannot be frozen', async (t) => {
  const h = await httpHarness(t)
  const unknown = await h.client.call({ method: 'POST', url: '/cards/00000000-0000-4000-8000-000000000000/freeze', headers: { authorization: 'Bearer dev-backend-key' } })
  t.equal(unknown.statusCode, 404)
  const walletId = await h.activeWallet()
  const pending = (await h.post('/cards', { walletId, cardholderName: 'X' })).json()
  const res = await h.client.call({ method: 'POST', url: `/cards/${pending.id}/freeze`, headers: { authorization: 'Bearer dev-backend-key' } })
  t.equal(res.statusCode, 422)
  t.equal(res.json().error.code, 'card_not_active')
  t.equal((await h.get('/cards/00000000-0000-4000-8000-000000000000')).statusCode, 404)
  t.equal((await h.post('/cards', { walletId: '00000000-0000-4000-8000-000000000000', cardholderName: 'X' })).json().error.code, 'wallet_not_found')
})

t.test('freeze answers frozen only once the issuer confirmed it', async (t) => {
  const fake = fakeCardIssuer()
  const h = await httpHarness(t, { issuer: fake.issuer })
  const cardId = await issued(h)
  const res = await h.client.call({ method: 'POST', url: `/cards/${cardId}/freeze`, payload: { reason: 'stolen' }, headers: { authorization: 'Bearer dev-backend-key' } })
  t.equal(res.statusCode, 200)
  t.equal(res.json().status, 'frozen')
  t.same(fake.calls, [{ action: 'freeze', cardId: 'iss-1' }], 'the issuer was asked within the request')
  const again = await h.client.call({ method: 'POST', url: `/cards/${cardId}/freeze`, headers: { authorization: 'Bearer dev-backend-key' } })
  t.equal(again.json().status, 'frozen')
  t.equal(fake.calls.length, 1, 'a card already frozen is not sent again')
})

t.test('an issuer refusal is 422 with the issuer’s reason, and nothing is recorded', async (t) => {
  const fake = fakeCardIssuer()
  fake.behaviour.refuse = 'card is under investigation'
  const h = await httpHarness(t, { issuer: fake.issuer })
  const cardId = await issued(h)
  const before = await h.store.head()
  const res = await h.client.call({ method: 'POST', url: `/cards/${cardId}/close`, headers: { authorization: 'Bearer dev-backend-key' } })
  t.equal(res.statusCode, 422)
  t.equal(res.json().error.code, 'card_issuer_refused')
  t.match(res.json().error.message, /card is under investigation/)
  t.equal(await h.store.head(), before, 'no event appended')
  t.match((await h.get(`/cards/${cardId}`)).json(), { status: 'active' })
  t.notOk((await h.get(`/cards/${cardId}`)).json().pendingAction)
})

t.test('an issuer that does not confirm within the wait gets 202 with the card still active and the action pending', async (t) => {
  const fake = fakeCardIssuer()
  fake.behaviour.delayMs = 5000
  const h = await httpHarness(t, { issuer: fake.issuer, cardActionWaitMs: 300 })
  const cardId = await issued(h)
  const started = Date.now()
  const res = await h.client.call({ method: 'POST', url: `/cards/${cardId}/freeze`, headers: { authorization: 'Bearer dev-backend-key' } })
  const waited = Date.now() - started
  t.equal(res.statusCode, 202)
  t.match(res.json(), { status: 'active', pendingAction: 'freeze' })
  t.equal(res.headers.location, `/cards/${cardId}`)
  t.ok(waited >= 250 && waited < 2000, `the wait is bounded (${waited} ms)`)
  t.match((await h.get(`/cards/${cardId}`)).json(), { status: 'active', pendingAction: 'freeze' }, 'GET shows the pending action')
  const types = (await h.store.readAll()).events.map((e) => e.type)
  t.ok(types.includes('CardActionRequested') && !types.includes('CardFrozen'), 'recorded as requested, not as frozen')
})
