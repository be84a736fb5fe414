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

t.test('the document passes `redocly lint` with its recommended rules: no error, no warning', async (t) => {
  const { execFile } = await import('node:child_process')
  const { mkdtemp, writeFile, rm } = await import('node:fs/promises')
  const { tmpdir } = await import('node:os')
  const path = await import('node:path')
  const { app } = await httpHarness(t)
  const dir = await mkdtemp(path.join(tmpdir(), 'openapi-lint-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const file = path.join(dir, 'openapi.json')
  await writeFile(file, (await app.inject({ method: 'GET', url: '/openapi.json' })).body)
  const cli = path.resolve(import.meta.dirname, '../../node_modules/@redocly/cli/bin/cli.js')
  const out = await new Promise<string>((resolve, reject) =>
    execFile(process.execPath, [cli, 'lint', file, '--format=json', '--extends=recommended'], { cwd: dir, env: { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true' } }, (err, stdout) =>
      stdout ? resolve(stdout) : reject(err ?? new Error('redocly printed nothing')),
    ),
  )
  const report = JSON.parse(out.slice(out.indexOf('{'))) as { totals: { errors: number; warnings: number }; problems: { ruleId: string; message: string }[] }
  t.same(report.totals, { errors: 0, warnings: 0, ignored: 0 }, 'clean', { problems: report.problems.map((p) => `${p.ruleId}: ${p.message}`) })
})

t.test('a reference someone can code against: descriptions, roles, operation ids, per-route error examples, development keys', async (t) => {
  const { app } = await httpHarness(t)
  const doc = (await app.inject({ method: 'GET', url: '/openapi.json' })).json()
  const ids = new Set<string>()
  for (const [path, methods] of Object.entries(doc.paths as Record<string, Record<string, { operationId: string; description?: string; responses: Record<string, { description: string }> }>>)) {
    for (const [method, op] of Object.entries(methods)) {
      t.ok(op.operationId && !ids.has(op.operationId), `${method} ${path} has a unique operationId (${op.operationId})`)
      ids.add(op.operationId)
      for (const [status, response] of Object.entries(op.responses)) {
        t.not(response.description, 'Default Response', `${method} ${path} ${status} has a real description`)
      }
      t.match(op.description, path === '/health' ? /Open: no API key/ : /Roles: .*`admin`/, `${method} ${path} says who may call it`)
    }
  }
  t.equal(doc.paths['/mint'].post.responses['202'].description, 'Accepted; the operation runs asynchronously. Poll the Location header, or send `Prefer: wait=N`')
  t.match(doc.paths['/mint'].post.description, 'Roles: `backend`, `admin`.')
  t.match(doc.paths['/mints/{id}'].get.description, 'Roles: `backend`, `auditor`, `admin`.')
  const example = (path: string, method: string, status: string) => doc.paths[path][method].responses[status].content['application/json'].examples
  t.same(Object.values(example('/mint', 'post', '401')).map((e) => (e as { value: { error: { code: string } } }).value.error.code), ['unauthorized', 'unauthorized'], '401 shows unauthorized')
  t.ok(example('/transfers', 'post', '422').same_wallet, 'transfer 422 lists same_wallet')
  t.notOk(example('/wallets', 'post', '422').insufficient_funds, 'creating a wallet never answers insufficient_funds')
  t.ok(example('/redeem', 'post', '422').bank_account_not_linked)
  t.match(doc.components.securitySchemes.apiKey.description, /dev-backend-key.*dev-auditor-key.*dev-admin-key/)
  t.ok(doc.servers?.length > 0 && doc.info.license, 'servers and license')
  t.match(doc.components.schemas.Wallet.example, { balances: { available: '60.00' } }, 'realistic examples')
  t.notOk(doc.components.schemas.WalletInput, 'no unused components')
})
