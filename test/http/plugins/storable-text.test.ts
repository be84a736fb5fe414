import { randomUUID } from 'node:crypto'
import t from 'tap'
import { auth } from '../../helpers/app.ts'
import { httpHarness } from '../../helpers/http.ts'

type Detail = { field: string; message: string }

t.test('text PostgreSQL cannot store is 400 validation_failed naming the field, and changes nothing', async (t) => {
  const { post, get, store } = await httpHarness(t)
  const before = await store.head()
  const key = randomUUID()
  for (const [body, field] of [
    [{ ownerId: 'a\u0000b' }, 'body.ownerId'],
    [{ ownerId: 'owner', description: 'half a pair \ud800' }, 'body.description'],
    [{ ownerId: 'owner', description: '\udc00 the other half' }, 'body.description'],
    [{ ownerId: 'owner', ['odd\u0000key']: 'x' }, 'body.odd\u0000key'],
  ] as const) {
    const res = await post('/wallets', body, { 'idempotency-key': key })
    t.equal(res.statusCode, 400, field)
    t.equal(res.json().error.code, 'validation_failed')
    t.same(res.json().error.details.map((d: Detail) => d.field), [field])
    t.match(res.json().error.message, /NUL character or an unpaired surrogate/)
  }
  t.equal(await store.head(), before, 'nothing was appended')
  // The key was not taken by the refusals: the corrected request under it creates the wallet.
  const fixed = await post('/wallets', { ownerId: 'a-b', description: 'a whole pair \ud83d\ude00' }, { 'idempotency-key': key })
  t.equal(fixed.statusCode, 202, fixed.body)
  t.equal(fixed.json().description, 'a whole pair \ud83d\ude00', 'a well-formed pair is text like any other')

  const query = await get('/wallets?ownerId=a%00b')
  t.equal(query.statusCode, 400)
  t.same(query.json().error.details.map((d: Detail) => d.field), ['query.ownerId'])
})

t.test('a deeply nested body is walked without exhausting the stack: 400, not 500', async (t) => {
  const { client } = await httpHarness(t)
  const nest = (depth: number, inner: string) => '['.repeat(depth) + inner + ']'.repeat(depth)
  for (const [inner, what] of [['1', 'nothing unstorable'], ['"a\\u0000b"', 'a NUL at the bottom']] as const) {
    const payload = `{"ownerId":"o","description":${nest(5000, inner)}}`
    const res = await client.call({ method: 'POST', url: '/wallets', payload, headers: { ...auth.backend, 'content-type': 'application/json', 'idempotency-key': randomUUID() } })
    t.equal(res.statusCode, 400, what)
    t.equal(res.json().error.code, 'validation_failed', what)
  }
})
