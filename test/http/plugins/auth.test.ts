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

t.test('made-up keys are rate limited per source address before authentication', async (t) => {
  const { app } = await httpHarness(t, { unauthenticatedMax: 50 })
  const url = '/wallets/00000000-0000-4000-8000-000000000000'
  const statuses: number[] = []
  for (let i = 0; i < 650; i++) {
    const res = await app.inject({ method: 'GET', url, remoteAddress: '203.0.113.7', headers: { authorization: `Bearer made-up-${i}` } })
    statuses.push(res.statusCode)
  }
  t.equal(statuses.filter((s) => s === 401).length, 50, 'the first 50 get 401')
  t.equal(statuses.filter((s) => s === 429).length, 600, 'the rest get 429')
  const limited = await app.inject({ method: 'GET', url, remoteAddress: '203.0.113.7', headers: { authorization: 'Bearer dev-backend-key' } })
  t.equal(limited.statusCode, 429, 'the address is limited before any key is looked at')
  t.equal(limited.json().error.code, 'rate_limited')
  t.match(limited.headers['retry-after'], /^\d+$/)
  const other = await app.inject({ method: 'GET', url, remoteAddress: '198.51.100.9', headers: { authorization: 'Bearer dev-backend-key' } })
  t.equal(other.statusCode, 404, 'another address with a good key is served')
  const good = await app.inject({ method: 'GET', url, remoteAddress: '198.51.100.9', headers: { authorization: 'Bearer dev-backend-key' } })
  t.equal(good.statusCode, 404, 'authenticated requests do not count against the address')
})

t.test('behind a trusted proxy the limit keys on the forwarded client address', async (t) => {
  const { app } = await httpHarness(t, { unauthenticatedMax: 2, trustProxy: 1 })
  const attempt = (client: string) => app.inject({ method: 'GET', url: '/metrics', remoteAddress: '10.0.0.1', headers: { 'x-forwarded-for': client, authorization: 'Bearer nope' } })
  for (let i = 0; i < 3; i++) await attempt('203.0.113.1')
  t.equal((await attempt('203.0.113.1')).statusCode, 429)
  t.equal((await attempt('203.0.113.2')).statusCode, 401, 'another client behind the same proxy is not limited')
})
