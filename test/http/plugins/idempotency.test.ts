import t from 'tap'
import { sql } from 'kysely'
import { purgeExpiredIdempotencyKeys } from '../../../src/http/plugins/idempotency.ts'
import { auth } from '../../helpers/app.ts'
import { httpHarness } from '../../helpers/http.ts'

t.test('a replay with the same body returns the original status and body, marked replayed', async (t) => {
  const { post, store } = await httpHarness(t)
  const first = await post('/wallets', { ownerId: 'o-1', description: 'd' }, { 'idempotency-key': 'wallet-key-1' })
  const events = (await store.readAll()).events.length
  const replay = await post('/wallets', { description: 'd', ownerId: 'o-1' }, { 'idempotency-key': 'wallet-key-1' })
  t.equal(replay.statusCode, first.statusCode)
  t.same(replay.json(), first.json(), 'same body, key order notwithstanding')
  t.equal(replay.headers['idempotent-replayed'], 'true')
  t.equal(replay.headers.location, first.headers.location)
  t.notOk(first.headers['idempotent-replayed'])
  t.equal((await store.readAll()).events.length, events, 'nothing new was written')
})

t.test('a business refusal is replayed too; the key is not reusable for another body', async (t) => {
  const { post } = await httpHarness(t)
  const body = { walletId: '00000000-0000-4000-8000-000000000000', amount: '1' }
  const first = await post('/mint', body, { 'idempotency-key': 'mint-key' })
  t.equal(first.statusCode, 422)
  const again = await post('/mint', body, { 'idempotency-key': 'mint-key' })
  t.equal(again.statusCode, 422)
  t.equal(again.headers['idempotent-replayed'], 'true')
  const other = await post('/mint', { ...body, amount: '2' }, { 'idempotency-key': 'mint-key' })
  t.equal(other.statusCode, 422)
  t.equal(other.json().error.code, 'idempotency_key_reused')
  const otherRoute = await post('/wallets', { ownerId: 'x' }, { 'idempotency-key': 'mint-key' })
  t.equal(otherRoute.json().error.code, 'idempotency_key_reused', 'a key belongs to one route')
})

t.test('keys are per API key: two callers may use the same key', async (t) => {
  const { post } = await httpHarness(t)
  const a = await post('/wallets', { ownerId: 'x' }, { 'idempotency-key': 'shared' })
  const b = await post('/wallets', { ownerId: 'x' }, { 'idempotency-key': 'shared', ...auth.admin })
  t.equal(b.statusCode, 202)
  t.not(b.json().id, a.json().id)
})

t.test('concurrent duplicates create exactly one operation', async (t) => {
  const { post, store, activeWallet } = await httpHarness(t)
  const walletId = await activeWallet()
  const results = await Promise.all(Array.from({ length: 10 }, () => post('/mint', { walletId, amount: '5' }, { 'idempotency-key': 'race-key' })))
  const statuses = results.map((r) => r.statusCode)
  t.ok(statuses.every((s) => s === 202 || s === 409), `every answer is 202 or 409 (${statuses.join(',')})`)
  t.ok(results.filter((r) => r.statusCode === 409).every((r) => r.json().error.code === 'idempotency_key_in_use'))
  const ids = new Set(results.filter((r) => r.statusCode === 202).map((r) => r.json().id))
  t.equal(ids.size, 1, 'every success names the same mint')
  const mints = await store.readAll({ filter: { types: ['MintRequested'] }, maxCount: 1000 })
  t.equal(mints.events.filter((e) => e.data.walletId === walletId).length, 1, 'exactly one mint was created')
})

t.test('a missing or malformed key is 400 and changes nothing', async (t) => {
  const { client, store } = await httpHarness(t)
  const missing = await client.call({ method: 'POST', url: '/wallets', payload: { ownerId: 'x' }, headers: auth.backend })
  t.equal(missing.statusCode, 400)
  t.equal(missing.json().error.code, 'validation_failed')
  const tooLong = await client.call({ method: 'POST', url: '/wallets', payload: { ownerId: 'x' }, headers: { ...auth.backend, 'idempotency-key': 'k'.repeat(256) } })
  t.equal(tooLong.statusCode, 400)
  const spaced = await client.call({ method: 'POST', url: '/wallets', payload: { ownerId: 'x' }, headers: { ...auth.backend, 'idempotency-key': 'has space' } })
  t.equal(spaced.statusCode, 400)
  t.equal(await store.head(), undefined)
})

t.test('an abandoned in-flight key can be retried; expired keys are purged', async (t) => {
  const { post, db } = await httpHarness(t)
  await db.insertInto('idempotency_keys').values({
    principal: 'dev-backend', key: 'stuck', request_hash: 'x', state: 'in_flight', response_status: null, response_body: null, response_headers: null,
    locked_until: new Date(Date.now() + 60_000), expires_at: new Date(Date.now() + 3_600_000),
  }).execute()
  t.equal((await post('/wallets', { ownerId: 'x' }, { 'idempotency-key': 'stuck' })).json().error.code, 'idempotency_key_reused', 'a different request hash')
  const first = await post('/wallets', { ownerId: 'x' }, { 'idempotency-key': 'crashed' })
  await sql`UPDATE idempotency_keys SET state = 'in_flight', locked_until = now() - interval '1 second' WHERE key = 'crashed'`.execute(db)
  const retried = await post('/wallets', { ownerId: 'x' }, { 'idempotency-key': 'crashed' })
  t.equal(retried.statusCode, 202)
  t.equal(retried.json().id, first.json().id, 'the retry names the same wallet (ids derive from the key)')
  await sql`UPDATE idempotency_keys SET expires_at = now() - interval '1 second' WHERE key = 'crashed'`.execute(db)
  const reused = await post('/wallets', { ownerId: 'someone-else' }, { 'idempotency-key': 'crashed' })
  t.equal(reused.statusCode, 202, 'an expired key may be used again')
  t.not(reused.json().id, first.json().id, 'and a new request under it creates a new wallet, not the old one')
  await sql`UPDATE idempotency_keys SET expires_at = now() - interval '1 second' WHERE key = 'crashed'`.execute(db)
  t.equal(await purgeExpiredIdempotencyKeys(db), 1)
})
