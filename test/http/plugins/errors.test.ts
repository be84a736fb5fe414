import { connect } from 'node:net'
import t from 'tap'
import { execute } from '../../../src/commands/handler.ts'
import { recordCardOutcome } from '../../../src/commands/record-card-outcome.ts'
import { auth } from '../../helpers/app.ts'
import { meta } from '../../helpers/commands.ts'
import { httpHarness } from '../../helpers/http.ts'

type Detail = { field: string; message: string }

t.test('a number amount says what an amount looks like, with no validator wording', async (t) => {
  const { post, activeWallet } = await httpHarness(t)
  const walletId = await activeWallet()
  const res = await post('/mint', { walletId, amount: 10 })
  t.equal(res.statusCode, 400)
  t.match(res.json().error.message, 'amount must be a decimal string such as "10.50"')
  t.same(res.json().error.details.map((d: Detail) => d.field), ['body.amount'])
  t.notMatch(res.body, /Invalid input|expected string|received number/, 'no raw validator text')
})

t.test('a missing Idempotency-Key names the header and why it is needed', async (t) => {
  const { client, activeWallet } = await httpHarness(t)
  const walletId = await activeWallet()
  const res = await client.call({ method: 'POST', url: '/mint', payload: { walletId, amount: '1' }, headers: auth.backend })
  t.equal(res.statusCode, 400)
  t.match(res.json().error.message, /Idempotency-Key header is required/)
  t.match(res.json().error.message, /retry cannot create the resource twice/)
  t.same(res.json().error.details, [{ field: 'headers.idempotency-key', message: res.json().error.details[0].message }])
})

t.test('fields are named by their request path everywhere: body.amount for the schema and for the configured maximum', async (t) => {
  const { post, activeWallet } = await httpHarness(t)
  const walletId = await activeWallet()
  const shape = await post('/mint', { walletId, amount: 'ten' })
  const tooMuch = await post('/mint', { walletId, amount: '1000000.01' })
  t.equal(tooMuch.statusCode, 400)
  t.same(shape.json().error.details.map((d: Detail) => d.field), ['body.amount'])
  t.same(tooMuch.json().error.details.map((d: Detail) => d.field), ['body.amount'])
  const nested = await post('/transfers', { sourceWalletId: walletId, destination: { type: 'wallet', walletId: 'nope' }, amount: '1' })
  t.same(nested.json().error.details.map((d: Detail) => d.field), ['body.destination.walletId'])
  t.match(nested.json().error.details[0].message, 'walletId must be a UUID')
})

t.test('an id in upper case is refused as malformed, in a body, a path and a filter, and nothing is stored under the key', async (t) => {
  const { post, get, activeWallet } = await httpHarness(t)
  const walletId = await activeWallet()
  const upper = walletId.toUpperCase()
  const key = 'upper-case-wallet'
  const minted = await post('/mint', { walletId: upper, amount: '1' }, { 'idempotency-key': key })
  t.equal(minted.statusCode, 400)
  t.same(minted.json().error.details, [{ field: 'body.walletId', message: 'walletId must be a UUID in lower case, such as 3f0c6d2e-8a4b-4c1d-9e2f-5a6b7c8d9e0f' }])
  const read = await get(`/wallets/${upper}`)
  t.equal(read.statusCode, 400, 'a path id')
  t.equal(read.json().error.details[0].field, 'params.id')
  const listed = await get(`/mints?walletId=${upper}`)
  t.equal(listed.statusCode, 400, 'a filter')
  t.equal(listed.json().error.details[0].field, 'query.walletId')
  const again = await post('/mint', { walletId, amount: '1' }, { 'idempotency-key': key })
  t.equal(again.statusCode, 202, 'the same key then works with the id as written')
  t.equal((await get(`/wallets/${walletId}`)).statusCode, 200)
})

t.test('one detail per problem: a bad amount is one, two unknown fields are two', async (t) => {
  const { post, activeWallet } = await httpHarness(t)
  const walletId = await activeWallet()
  for (const amount of ['abc', '0', '-1', '1.1234567', 'x'.repeat(50)]) {
    const res = await post('/mint', { walletId, amount })
    t.equal(res.json().error.details.length, 1, `amount ${JSON.stringify(amount).slice(0, 12)}: one detail`)
  }
  const extra = await post('/mint', { walletId, amount: '1', fee: '0', status: 'completed' })
  t.same(extra.json().error.details.map((d: Detail) => d.field).sort(), ['body.fee', 'body.status'])
  t.match(extra.json().error.details[0].message, /is not a known field/)
  const missing = await post('/wallets', {})
  t.same(missing.json().error.details, [{ field: 'body.ownerId', message: 'ownerId is required' }])
})

t.test('a JSON body with the wrong content type is 415, the same as one without any', async (t) => {
  const { client, activeWallet } = await httpHarness(t)
  const walletId = await activeWallet()
  const body = JSON.stringify({ walletId, amount: '1' })
  const headers = { ...auth.backend, 'idempotency-key': 'ct-1' }
  const asText = await client.call({ method: 'POST', url: '/mint', body, headers: { ...headers, 'content-type': 'text/plain' } })
  const asForm = await client.call({ method: 'POST', url: '/mint', body, headers: { ...headers, 'idempotency-key': 'ct-2', 'content-type': 'application/x-www-form-urlencoded' } })
  const without = await client.call({ method: 'POST', url: '/mint', body, headers: { ...headers, 'idempotency-key': 'ct-3' } })
  for (const res of [asText, asForm, without]) {
    t.equal(res.statusCode, 415)
    t.equal(res.json().error.code, 'unsupported_media_type')
    t.match(res.json().error.message, 'Content-Type: application/json')
  }
  t.match(asText.json().error.message, '(got text/plain)')
})

t.test('where the body is optional an empty body is fine; where it is required it is named', async (t) => {
  const h = await httpHarness(t)
  const walletId = await h.activeWallet()
  const card = (await h.post('/cards', { walletId, cardholderName: 'Ada Lovelace' })).json()
  await execute(h.store, recordCardOutcome, { cardId: card.id, outcome: { type: 'issued', issuerCardId: 'iss-1', last4: '4242', expMonth: 12, expYear: 2030, network: 'VISA' } }, meta())
  const empty = await h.client.call({ method: 'POST', url: `/cards/${card.id}/freeze`, body: '', headers: { ...auth.backend, 'content-type': 'application/json' } })
  t.equal(empty.statusCode, 200, 'an empty JSON body on freeze')
  t.equal(empty.json().status, 'frozen')
  const none = await h.client.call({ method: 'POST', url: `/cards/${card.id}/unfreeze`, headers: auth.backend })
  t.equal(none.statusCode, 200, 'no body at all')
  const required = await h.client.call({ method: 'POST', url: '/mint', body: '', headers: { ...auth.backend, 'content-type': 'application/json', 'idempotency-key': 'empty-1' } })
  t.equal(required.statusCode, 400)
  t.same(required.json().error.details, [{ field: 'body', message: 'the body is required: send a JSON object' }])
})

t.test('invalid JSON is 400 invalid_json with a hint', async (t) => {
  const { client } = await httpHarness(t)
  const res = await client.call({ method: 'POST', url: '/wallets', body: '{"ownerId": ', headers: { ...auth.backend, 'content-type': 'application/json', 'idempotency-key': 'j-1' } })
  t.equal(res.statusCode, 400)
  t.equal(res.json().error.code, 'invalid_json')
  t.match(res.json().error.message, /not valid JSON: check its quotes/)
})

t.test('the 429 message names the configured window, not the time left', async (t) => {
  const { client } = await httpHarness(t, { rateLimit: { max: 1, windowMs: 90_000 } })
  const url = '/wallets/00000000-0000-4000-8000-000000000000'
  await client.call({ method: 'GET', url, headers: auth.backend })
  const limited = await client.call({ method: 'GET', url, headers: auth.backend })
  t.equal(limited.statusCode, 429)
  t.match(limited.json().error.message, 'rate limit of 1 requests per 90 seconds exceeded for this API key')
  t.ok(Number(limited.headers['retry-after']) > 0)
})

t.test('what the router and the HTTP parser refuse is answered in the same envelope, with a request id', async (t) => {
  const { app, get } = await httpHarness(t)
  const badUrl = await get('/wallets/%zz')
  t.equal(badUrl.statusCode, 400)
  t.match(badUrl.json(), { error: { code: 'invalid_url', message: /not a valid URL/ }, requestId: String })
  t.equal(badUrl.headers['x-request-id'], badUrl.json().requestId)
  const long = await get(`/deposits/${'a'.repeat(300)}`)
  t.equal(long.statusCode, 414)
  t.match(long.json(), { error: { code: 'uri_too_long', message: 'a path segment is longer than 256 characters' }, requestId: String })
  const longId = await get(`/deposits/${'a'.repeat(200)}`)
  t.equal(longId.statusCode, 400, 'an id longer than the route takes but within the router is the route\'s own validation')
  t.equal(longId.json().error.code, 'validation_failed')

  // Node's HTTP parser refuses headers over 16 KB before Fastify sees the request: a real socket.
  const address = await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = new URL(address)
  const answer = await new Promise<string>((resolve, reject) => {
    const socket = connect(Number(port), '127.0.0.1', () => socket.write(`GET /health HTTP/1.1\r\nHost: x\r\nX-Big: ${'b'.repeat(20_000)}\r\n\r\n`))
    let text = ''
    socket.on('data', (chunk) => (text += chunk.toString()))
    socket.on('close', () => resolve(text))
    socket.on('error', (err) => (text ? resolve(text) : reject(err)))
  })
  t.match(answer, /^HTTP\/1\.1 431 Request Header Fields Too Large\r\n/)
  const body = JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4))
  t.match(body, { error: { code: 'headers_too_large', message: /headers are larger/ }, requestId: String })
  t.match(answer, new RegExp(`x-request-id: ${body.requestId}\r\n`))
})

t.test('a path the API serves, asked with a method it does not take, is 405 with Allow; an unknown path stays 404', async (t) => {
  const { app } = await httpHarness(t)
  const wrong = await app.inject({ method: 'DELETE', url: '/wallets/00000000-0000-4000-8000-000000000000', headers: auth.backend })
  t.equal(wrong.statusCode, 405)
  t.equal(wrong.headers.allow, 'GET, HEAD')
  t.match(wrong.json(), { error: { code: 'method_not_allowed', message: '/wallets/00000000-0000-4000-8000-000000000000 does not take DELETE; it takes GET, HEAD' }, requestId: String })
  const put = await app.inject({ method: 'PUT', url: '/wallets?limit=5', headers: auth.backend })
  t.equal(put.statusCode, 405)
  t.equal(put.headers.allow, 'GET, HEAD, POST', 'the list and the create share the path')
  const unknown = await app.inject({ method: 'DELETE', url: '/nowhere', headers: auth.backend })
  t.equal(unknown.statusCode, 404)
  t.equal(unknown.json().error.code, 'not_found')
  t.equal((await app.inject({ method: 'DELETE', url: '/wallets/00000000-0000-4000-8000-000000000000' })).statusCode, 401, 'without a key: 401 first, as for any route')
  // A route that answers 404 itself (a file missing under the docs' wildcard) is not a wrong method.
  const missingFile = await app.inject({ method: 'GET', url: '/docs/static/nope.js' })
  t.equal(missingFile.statusCode, 404)
  t.equal(missingFile.headers.allow, undefined)
  const docsRoot = await app.inject({ method: 'POST', url: '/docs/', headers: auth.backend })
  t.equal(docsRoot.statusCode, 405, 'a prefix’s own route, with its trailing slash')
  t.equal(docsRoot.headers.allow, 'GET, HEAD')
})
