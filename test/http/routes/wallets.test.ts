import t from 'tap'
import { auth } from '../../helpers/app.ts'
import { httpHarness } from '../../helpers/http.ts'

t.test('POST /wallets answers 202 pending with a Location, and GET reads it back at once', async (t) => {
  const { post, get } = await httpHarness(t)
  const res = await post('/wallets', { ownerId: 'user-42', description: 'main' })
  t.equal(res.statusCode, 202)
  const wallet = res.json()
  t.match(wallet, { ownerId: 'user-42', description: 'main', status: 'pending', addresses: [], balances: { available: '0.00', reserved: '0.00', total: '0.00', currency: 'USD' } })
  t.equal(res.headers.location, `/wallets/${wallet.id}`)
  const read = await get(res.headers.location as string)
  t.equal(read.statusCode, 200, 'read-your-writes: never 404 right after the POST')
  t.same(read.json(), wallet)
})

t.test('an active funded wallet shows its balances as decimal strings', async (t) => {
  const { get, activeWallet } = await httpHarness(t)
  const walletId = await activeWallet('owner-1', '100.50')
  const wallet = (await get(`/wallets/${walletId}`)).json()
  t.equal(wallet.status, 'active')
  t.ok(wallet.circleWalletId)
  t.same(wallet.balances, { available: '100.50', reserved: '0.00', total: '100.50', currency: 'USD' })
})

t.test('GET of an unknown wallet is 404 not_found; a malformed id is 400', async (t) => {
  const { get } = await httpHarness(t)
  const missing = await get('/wallets/00000000-0000-4000-8000-000000000000')
  t.equal(missing.statusCode, 404)
  t.equal(missing.json().error.code, 'not_found')
  t.ok(missing.json().requestId)
  const bad = await get('/wallets/not-a-uuid')
  t.equal(bad.statusCode, 400)
  t.equal(bad.json().error.code, 'validation_failed')
})

t.test('bad bodies are 400 validation_failed naming the field', async (t) => {
  const { post } = await httpHarness(t)
  const missing = await post('/wallets', {})
  t.equal(missing.statusCode, 400)
  t.match(missing.json().error.details, [{ field: 'body.ownerId' }])
  const extra = await post('/wallets', { ownerId: 'a', admin: true })
  t.equal(extra.statusCode, 400, 'unknown fields are refused')
  const padded = await post('/wallets', { ownerId: 'user-42 ' })
  t.same(padded.json().error.details, [{ field: 'body.ownerId', message: 'ownerId must not start or end with a space or a line break' }], 'another owner than user-42: refused')
})

t.test('a page size is written in decimal digits: 1e1, 0x10, 5.0 and -1 are 400 naming limit; a huge one is capped', async (t) => {
  const { get, post } = await httpHarness(t)
  for (let i = 0; i < 3; i++) await post('/wallets', { ownerId: `owner-${i}` })
  for (const limit of ['1e1', '0x10', '5.0', '-1', '%205', 'ten', '']) {
    const res = await get(`/wallets?limit=${limit}`)
    t.equal(res.statusCode, 400, limit)
    t.same(res.json().error.details, [{ field: 'query.limit', message: 'limit must be a whole number written in decimal digits, such as 50' }], limit)
  }
  t.same((await get('/wallets?limit=0')).json().error.details, [{ field: 'query.limit', message: 'limit must be at least 1' }])
  t.equal((await get('/wallets?limit=2')).json().items.length, 2)
  t.equal((await get('/wallets?limit=002')).json().items.length, 2)
  t.equal((await get('/wallets?limit=0000000000000002')).json().items.length, 2, 'leading zeros are not digits beyond a safe integer')
  t.same((await get('/wallets?limit=0000000000000000')).json().error.details, [{ field: 'query.limit', message: 'limit must be at least 1' }])
  t.equal((await get(`/wallets?limit=${'9'.repeat(30)}`)).json().items.length, 3, 'beyond any page: the largest page')
})

t.test('keys and roles: 401 without or with an unknown key, 403 for an auditor creating, auditor may read', async (t) => {
  const { client, post } = await httpHarness(t)
  const none = await client.call({ method: 'POST', url: '/wallets', payload: { ownerId: 'x' }, headers: { 'idempotency-key': 'k1' } })
  t.equal(none.statusCode, 401)
  t.equal(none.json().error.code, 'unauthorized')
  const unknown = await client.call({ method: 'GET', url: '/wallets/00000000-0000-4000-8000-000000000000', headers: { authorization: 'Bearer nope' } })
  t.equal(unknown.statusCode, 401)
  const auditor = await post('/wallets', { ownerId: 'x' }, auth.auditor)
  t.equal(auditor.statusCode, 403)
  t.equal(auditor.json().error.code, 'forbidden')
  const created = (await post('/wallets', { ownerId: 'x' })).json()
  t.equal((await client.call({ method: 'GET', url: `/wallets/${created.id}`, headers: auth.auditor })).statusCode, 200)
  t.equal((await post('/wallets', { ownerId: 'y' }, auth.admin)).statusCode, 202, 'admin may do everything')
})
