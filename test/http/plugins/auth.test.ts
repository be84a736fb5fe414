import t from 'tap'
import { sha256hex } from '../../../src/http/plugins/auth.ts'
import { httpHarness } from '../../helpers/http.ts'

t.test('configured keys replace the development keys', async (t) => {
  const { client } = await httpHarness(t, { apiKeys: [{ name: 'mirror', role: 'backend', sha256: sha256hex('s3cret-key') }] })
  const dev = await client.call({ method: 'GET', url: '/wallets/00000000-0000-4000-8000-000000000000', headers: { authorization: 'Bearer dev-backend-key' } })
  t.equal(dev.statusCode, 401, 'development keys stop working once keys are configured')
  const ok = await client.call({ method: 'GET', url: '/wallets/00000000-0000-4000-8000-000000000000', headers: { authorization: 'Bearer s3cret-key' } })
  t.equal(ok.statusCode, 404, 'the configured key is accepted')
  const basic = await client.call({ method: 'GET', url: '/wallets/00000000-0000-4000-8000-000000000000', headers: { authorization: 'Basic czNjcmV0' } })
  t.equal(basic.statusCode, 401)
  t.equal(basic.headers['www-authenticate'], 'Bearer')
})

t.test('health and the OpenAPI document are open; metrics need an auditor or admin key', async (t) => {
  const { app } = await httpHarness(t)
  t.equal((await app.inject({ method: 'GET', url: '/health' })).statusCode, 200)
  t.equal((await app.inject({ method: 'GET', url: '/openapi.json' })).statusCode, 200)
  t.equal((await app.inject({ method: 'GET', url: '/docs' })).statusCode < 400, true, 'Swagger UI is served')
  t.equal((await app.inject({ method: 'GET', url: '/metrics' })).statusCode, 401)
  t.equal((await app.inject({ method: 'GET', url: '/metrics', headers: { authorization: 'Bearer dev-backend-key' } })).statusCode, 403)
  t.equal((await app.inject({ method: 'GET', url: '/metrics', headers: { authorization: 'Bearer dev-auditor-key' } })).statusCode, 200)
})
