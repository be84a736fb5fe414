import t from 'tap'
import { httpHarness } from '../helpers/http.ts'

const routes = [
  ['post', '/wallets'], ['get', '/wallets/{id}'], ['post', '/wallets/address'], ['get', '/wallets/{walletId}/addresses/{addressId}'],
  ['post', '/bank-accounts'], ['get', '/bank-accounts/{id}'], ['post', '/mint'], ['get', '/mints/{id}'], ['post', '/redeem'], ['get', '/redeems/{id}'],
  ['post', '/transfers'], ['get', '/transfers/{id}'], ['post', '/cards'], ['get', '/cards/{id}'], ['post', '/cards/{id}/freeze'],
  ['post', '/cards/{id}/unfreeze'], ['post', '/cards/{id}/close'], ['get', '/health'],
] as const

t.test('the OpenAPI document lists every endpoint with its success and error answers', async (t) => {
  const { app } = await httpHarness(t)
  const doc = (await app.inject({ method: 'GET', url: '/openapi.json' })).json()
  t.equal(doc.openapi, '3.1.0')
  for (const [method, path] of routes) {
    const op = doc.paths[path]?.[method]
    t.ok(op, `${method.toUpperCase()} ${path} is documented`)
    if (!op) continue
    t.ok(op.summary, `${path} has a summary`)
    if (path !== '/health') {
      for (const status of ['400', '401', '403', '429', '503']) t.ok(op.responses[status], `${method.toUpperCase()} ${path} documents ${status}`)
    }
  }
  t.ok(doc.components.schemas.Error, 'the error body is a named schema')
  t.ok(doc.paths['/mint'].post.parameters.some((p: { name: string; required?: boolean }) => p.name === 'idempotency-key' && p.required), 'Idempotency-Key is a documented required header')
  t.ok(doc.paths['/mint'].post.requestBody.content['application/json'].schema.properties.amount.example, 'examples are documented')
})

t.test('the contract client catches an answer that breaks the documented schema or status', async (t) => {
  const { app } = await httpHarness(t)
  const failures: string[] = []
  const { contractClient } = await import('../helpers/openapi.ts')
  const recorder = { fail: (m: string) => void failures.push(m) } as unknown as Parameters<typeof contractClient>[0]
  const client = await contractClient(recorder, app)
  await client.call({ method: 'GET', url: '/health' })
  t.same(failures, [], 'a valid answer passes')
  t.ok(client.checked.includes('GET /health 200'))
  const fake = (statusCode: number, body: unknown) => ({ statusCode, json: () => body }) as unknown as Parameters<typeof client.validate>[2]
  client.validate('GET', '/health', fake(200, { status: 'bogus', checks: {} }))
  t.match(failures.at(-1), /does not match its documented schema/, 'a wrong body is caught')
  client.validate('GET', '/health', fake(418, {}))
  t.match(failures.at(-1), /does not document/, 'an undocumented status is caught')
  client.validate('GET', '/nowhere', fake(200, {}))
  t.match(failures.at(-1), /not documented/, 'an undocumented route is caught')
})
