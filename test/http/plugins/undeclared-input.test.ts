import t from 'tap'
import { auth } from '../../helpers/app.ts'
import { httpHarness } from '../../helpers/http.ts'

const missing = '00000000-0000-4000-8000-000000000000'

t.test('a query parameter on a route that takes none is 400 naming it, before the route answers', async (t) => {
  const { get } = await httpHarness(t)
  const past = await get('/journal/trial-balance?at=2026-01-01T00:00:00Z', auth.auditor)
  t.equal(past.statusCode, 400, 'not today’s trial balance passed off as that moment’s')
  t.same(past.json().error, {
    code: 'validation_failed',
    message: 'the request is not valid: at is not a parameter of this endpoint, which takes none; remove it',
    details: [{ field: 'query.at', message: 'at is not a parameter of this endpoint, which takes none; remove it' }],
  })
  const two = await get(`/wallets/${missing}?expand=1&fields=id`)
  t.equal(two.statusCode, 400, 'refused before the 404 of the unknown wallet')
  t.same(two.json().error.details.map((d: { field: string }) => d.field), ['query.expand', 'query.fields'])
  t.equal((await get('/journal/trial-balance', auth.auditor)).statusCode, 200)
  t.equal((await get(`/wallets/${missing}`)).statusCode, 404)
})

t.test('a body on a POST that takes none is 400 naming each field, and nothing is done; no body, or {}, is fine', async (t) => {
  const { app } = await httpHarness(t)
  const replay = (payload?: string) =>
    app.inject({ method: 'POST', url: `/admin/dead-letters/${missing}/replay`, headers: { ...auth.admin, ...(payload === undefined ? {} : { 'content-type': 'application/json' }) }, ...(payload === undefined ? {} : { payload }) })
  const fields = await replay('{"force": true, "reason": "x"}')
  t.equal(fields.statusCode, 400)
  t.same(fields.json().error.details, [
    { field: 'body.force', message: 'force is not a field of this endpoint, which takes no body; remove it' },
    { field: 'body.reason', message: 'reason is not a field of this endpoint, which takes no body; remove it' },
  ])
  for (const payload of ['[1]', '"go"', '7', 'null']) {
    const res = await replay(payload)
    t.equal(res.statusCode, 400, payload)
    t.same(res.json().error.details, [{ field: 'body', message: 'this endpoint takes no body; send none' }], payload)
  }
  // Past the check, the route runs: the dead letter is unknown.
  t.equal((await replay()).statusCode, 404)
  t.equal((await replay('{}')).statusCode, 404)
  t.equal((await replay('')).statusCode, 404)
})

t.test('open routes and routes outside the API document are left as they are', async (t) => {
  const { app } = await httpHarness(t)
  t.equal((await app.inject({ method: 'GET', url: '/health?probe=lb' })).statusCode, 200)
  t.equal((await app.inject({ method: 'GET', url: '/openapi.json?v=2' })).statusCode, 200)
  t.equal((await app.inject({ method: 'GET', url: '/metrics?x=1', headers: auth.auditor })).statusCode, 200)
})
