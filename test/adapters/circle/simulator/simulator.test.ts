import { createPublicKey, randomUUID, verify, X509Certificate } from 'node:crypto'
import { createServer, type IncomingMessage } from 'node:http'
import t, { type Test } from 'tap'
import { requestErrors, requestExamples, responseErrors } from '../../../../src/adapters/circle/simulator/contract.ts'
import { createCircleSimulator } from '../../../../src/adapters/circle/simulator/simulator.ts'
import { memoryState, type SimState } from '../../../../src/adapters/circle/simulator/state.ts'
import { snsCanonicalNotification } from '../../../../src/adapters/circle/simulator/webhooks.ts'
import { parseAmount } from '../../../../src/events/money.ts'

const auth = { authorization: 'Bearer SIM_KEY' }

/** Calls the simulator and checks each answer against Circle's OpenAPI document. */
async function harness(t: Test, options = {}) {
  const sim = await createCircleSimulator({ settleMs: 50, ...options })
  t.teardown(() => sim.close())
  const call = async (method: 'GET' | 'POST', url: string, openapiPath: string, body?: object) => {
    const res = await sim.app.inject({ method, url, headers: auth, ...(body ? { payload: body } : {}) })
    const errors = responseErrors(method, openapiPath, res.statusCode, res.json())
    t.notOk(errors, `${method} ${openapiPath} ${res.statusCode} matches Circle's document`, { errors, body: res.json() })
    return res
  }
  return { sim, call }
}
const settle = () => new Promise((r) => setTimeout(r, 150))

t.test('the same idempotency key twice creates one resource; another body is 409 code 1083', async (t) => {
  const { sim, call } = await harness(t)
  const key = randomUUID()
  const a = await call('POST', '/v1/wallets', '/v1/wallets', { idempotencyKey: key, description: 'one' })
  const b = await call('POST', '/v1/wallets', '/v1/wallets', { idempotencyKey: key, description: 'one' })
  t.equal(a.statusCode, 201)
  t.same(b.json(), a.json(), 'the replay answers the original resource')
  t.equal((await sim.creations()).filter((c) => c.idempotencyKey === key).length, 1, 'one wallet')
  t.equal((await sim.creations()).find((c) => c.idempotencyKey === key)?.requests, 2, 'two requests seen for the key')
  const c = await sim.app.inject({ method: 'POST', url: '/v1/wallets', headers: auth, payload: { idempotencyKey: key, description: 'two' } })
  t.equal(c.statusCode, 409)
  t.equal(c.json().code, 1083)
})

t.test('requests are checked against Circle’s document and refused like Circle', async (t) => {
  const { sim } = await harness(t)
  const res = await sim.app.inject({ method: 'POST', url: '/v1/transfers', headers: auth, payload: { source: { type: 'wallet', id: '1' }, destination: { type: 'wallet', id: '2' }, amount: { amount: 5, currency: 'USD' } } })
  t.equal(res.statusCode, 400)
  t.equal(res.json().code, 2)
  t.match(res.json().errors, [{ error: 'required', location: 'idempotencyKey' }, { location: 'amount.amount', invalidValue: 5 }])
  const unauth = await sim.app.inject({ method: 'GET', url: '/v1/configuration' })
  t.equal(unauth.statusCode, 401)
  t.equal(unauth.json().code, 1)
})

t.test('balances really move: treasury -> wallet -> blockchain, payouts drain the treasury', async (t) => {
  const { sim, call } = await harness(t, { treasury: '1000.00' })
  const { walletId } = (await call('POST', '/v1/wallets', '/v1/wallets', { idempotencyKey: randomUUID(), description: 'w' })).json().data
  const mint = await call('POST', '/v1/transfers', '/v1/transfers', { idempotencyKey: randomUUID(), source: { type: 'wallet', id: sim.masterWalletId }, destination: { type: 'wallet', id: walletId }, amount: { amount: '250.00', currency: 'USD' } })
  t.equal(mint.json().data.status, 'pending')
  await settle()
  t.equal((await call('GET', `/v1/transfers/${mint.json().data.id}`, '/v1/transfers/{id}')).json().data.status, 'complete')
  t.same((await call('GET', `/v1/wallets/${walletId}`, '/v1/wallets/{walletId}')).json().data.balances, [{ amount: '250.00', currency: 'USD' }])
  t.same((await call('GET', '/v1/businessAccount/balances', '/v1/businessAccount/balances')).json().data.available, [{ amount: '750.00', currency: 'USD' }])
  const out = await call('POST', '/v1/transfers', '/v1/transfers', { idempotencyKey: randomUUID(), source: { type: 'wallet', id: walletId }, destination: { type: 'blockchain', chain: 'SOL', address: '4Nd1mBQtrMJVYVfKf2PJy9NZUZdTAsp7D4xWLs4gDB4T' }, amount: { amount: '50.00', currency: 'USD' } })
  await settle()
  const done = (await call('GET', `/v1/transfers/${out.json().data.id}`, '/v1/transfers/{id}')).json().data
  t.equal(done.status, 'complete')
  t.ok(done.transactionHash, 'an on-chain transfer has a tx hash')
  t.equal(await sim.balanceOf(walletId), 200_000_000n)
  const tooMuch = await sim.app.inject({ method: 'POST', url: '/v1/transfers', headers: auth, payload: { idempotencyKey: randomUUID(), source: { type: 'wallet', id: walletId }, destination: { type: 'wallet', id: sim.masterWalletId }, amount: { amount: '200.01', currency: 'USD' } } })
  t.equal(tooMuch.json().code, 1093, 'insufficient funds is refused')
  const wire = await call('POST', '/v1/businessAccount/banks/wires', '/v1/businessAccount/banks/wires', {
    idempotencyKey: randomUUID(), accountNumber: '12340010', routingNumber: '121000248',
    billingDetails: { name: 'Ada', city: 'Boston', country: 'US', line1: '1 Main', postalCode: '02201' }, bankAddress: { bankName: 'Wells Fargo', country: 'US' },
  })
  t.equal(wire.json().data.status, 'pending')
  await settle()
  t.equal((await call('GET', `/v1/businessAccount/banks/wires/${wire.json().data.id}`, '/v1/businessAccount/banks/wires/{id}')).json().data.status, 'complete')
  const payout = await call('POST', '/v1/businessAccount/payouts', '/v1/businessAccount/payouts', { idempotencyKey: randomUUID(), destination: { type: 'wire', id: wire.json().data.id }, amount: { amount: '100.00', currency: 'USD' } })
  await settle()
  t.equal((await call('GET', `/v1/businessAccount/payouts/${payout.json().data.id}`, '/v1/businessAccount/payouts/{id}')).json().data.status, 'complete')
  t.same((await call('GET', '/v1/businessAccount/balances', '/v1/businessAccount/balances')).json().data.available, [{ amount: '650.00', currency: 'USD' }])
  const address = await call('POST', `/v1/wallets/${walletId}/addresses`, '/v1/wallets/{walletId}/addresses', { idempotencyKey: randomUUID(), currency: 'USD', chain: 'XLM' })
  t.match(address.json().data, { chain: 'XLM', currency: 'USD', addressTag: /\d+/ })
  t.equal((await call('GET', '/v1/configuration', '/v1/configuration')).json().data.payments.masterWalletId, sim.masterWalletId)
})

t.test('a state store failing while a settled transfer lists its webhook subscribers loses that delivery, not the process', async (t) => {
  const state = memoryState()
  let failLists = false
  const flaky: SimState = {
    ...state,
    read: { get: (c, id) => state.read.get(c, id), list: (c, f) => (failLists && c === 'subscribers' ? Promise.reject(new Error('pool timeout')) : state.read.list(c, f)), page: (c, q) => state.read.page(c, q) },
  }
  const rejections: unknown[] = []
  const onRejection = (err: unknown) => rejections.push(err)
  process.on('unhandledRejection', onRejection)
  t.teardown(() => void process.off('unhandledRejection', onRejection))
  const { sim, call } = await harness(t, { treasury: '1000.00', state: flaky })
  const { walletId } = (await call('POST', '/v1/wallets', '/v1/wallets', { idempotencyKey: randomUUID(), description: 'w' })).json().data
  const mint = await call('POST', '/v1/transfers', '/v1/transfers', { idempotencyKey: randomUUID(), source: { type: 'wallet', id: sim.masterWalletId }, destination: { type: 'wallet', id: walletId }, amount: { amount: '250.00', currency: 'USD' } })
  failLists = true
  await settle()
  failLists = false
  t.equal((await call('GET', `/v1/transfers/${mint.json().data.id}`, '/v1/transfers/{id}')).json().data.status, 'complete', 'the transfer settled')
  t.same(rejections, [], 'no unhandled rejection')
})

t.test('injected failures settle transfers and payouts as failed and give the funds back', async (t) => {
  const { sim, call } = await harness(t)
  sim.setFaults({ failAmounts: ['13.00'], failPayoutAmounts: [] })
  const { walletId } = (await call('POST', '/v1/wallets', '/v1/wallets', { idempotencyKey: randomUUID(), description: 'w' })).json().data
  const before = await sim.balanceOf(sim.masterWalletId)!
  const res = await call('POST', '/v1/transfers', '/v1/transfers', { idempotencyKey: randomUUID(), source: { type: 'wallet', id: sim.masterWalletId }, destination: { type: 'wallet', id: walletId }, amount: { amount: '13.00', currency: 'USD' } })
  await settle()
  t.match((await call('GET', `/v1/transfers/${res.json().data.id}`, '/v1/transfers/{id}')).json().data, { status: 'failed', errorCode: 'transfer_failed' })
  t.equal(await sim.balanceOf(sim.masterWalletId), before)
})

async function receiver(t: Parameters<typeof harness>[0]) {
  const got: { headers: IncomingMessage['headers']; body: string }[] = []
  let fail = 0
  const server = createServer((req, res) => {
    let body = ''
    req.on('data', (c) => (body += c))
    req.on('end', () => {
      if (fail-- > 0) return void res.writeHead(500).end()
      got.push({ headers: req.headers, body })
      res.writeHead(200).end()
    })
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  t.teardown(() => server.close())
  const { port } = server.address() as { port: number }
  return { got, url: `http://127.0.0.1:${port}/webhook`, failNext: (n: number) => (fail = n) }
}

t.test('v2 webhooks are signed ECDSA P-256 over the raw body and verify against the served key; failures are retried', async (t) => {
  const { sim } = await harness(t, { webhookRetryDelayMs: 20 })
  const url = await sim.listen()
  const hook = await receiver(t)
  await sim.app.inject({ method: 'POST', url: '/sim/webhooks', headers: sim.controlHeaders, payload: { url: hook.url, version: 'v2' } })
  hook.failNext(1)
  const { walletId } = (await sim.app.inject({ method: 'POST', url: '/v1/wallets', headers: auth, payload: { idempotencyKey: randomUUID(), description: 'w' } })).json().data
  await sim.app.inject({ method: 'POST', url: '/v1/transfers', headers: auth, payload: { idempotencyKey: randomUUID(), source: { type: 'wallet', id: sim.masterWalletId }, destination: { type: 'wallet', id: walletId }, amount: { amount: '1.00', currency: 'USD' } } })
  await settle()
  await sim.webhooks.drain()
  t.equal(hook.got.length, 2, 'pending and complete arrive, the first after one retry')
  const keyId = hook.got[0]!.headers['x-circle-key-id'] as string
  const key = ((await (await fetch(`${url}/v2/notifications/publicKey/${keyId}`, { headers: auth })).json()) as { data: { algorithm: string; publicKey: string } }).data
  t.equal(key.algorithm, 'ECDSA_SHA_256')
  const publicKey = createPublicKey({ key: Buffer.from(key.publicKey, 'base64'), format: 'der', type: 'spki' })
  for (const { headers, body } of hook.got) {
    t.ok(verify('sha256', Buffer.from(body), publicKey, Buffer.from(headers['x-circle-signature'] as string, 'base64')), 'the signature verifies')
    t.notOk(verify('sha256', Buffer.from(body.replace('1.00', '9.00')), publicKey, Buffer.from(headers['x-circle-signature'] as string, 'base64')), 'a tampered body does not')
  }
  // The retried first delivery may land after the second: retries do not keep order (nor does Circle).
  t.same(hook.got.map((h) => JSON.parse(h.body).notification.status).sort(), ['complete', 'pending'])
  t.equal((await fetch(`${url}/v2/notifications/publicKey/${randomUUID()}`, { headers: auth })).status, 404)
})

t.test('v1 webhooks are SNS envelopes signed with the served test certificate', async (t) => {
  const { sim } = await harness(t)
  const url = await sim.listen()
  const hook = await receiver(t)
  await sim.app.inject({ method: 'POST', url: '/sim/webhooks', headers: sim.controlHeaders, payload: { url: hook.url, version: 'v1' } })
  const wire = await sim.app.inject({ method: 'POST', url: '/v1/businessAccount/banks/wires', headers: auth, payload: { idempotencyKey: randomUUID(), accountNumber: '12340010', routingNumber: '121000248', billingDetails: { name: 'A', city: 'B', country: 'US', line1: 'l', postalCode: '1' }, bankAddress: { country: 'US' } } })
  t.equal(wire.statusCode, 201)
  await settle()
  await sim.webhooks.drain()
  // Like SNS, a new subscriber is first asked to confirm, then gets notifications.
  t.equal(hook.got.length, 2)
  const confirmation = JSON.parse(hook.got[0]!.body)
  t.equal(confirmation.Type, 'SubscriptionConfirmation')
  t.equal((await fetch(confirmation.SubscribeURL)).status, 200, 'the SubscribeURL confirms')
  const envelope = JSON.parse(hook.got[1]!.body)
  t.equal(hook.got[1]!.headers['x-amz-sns-message-type'], 'Notification')
  t.equal(envelope.SigningCertURL, `${url}/sns/cert.pem`)
  const cert = new X509Certificate(await (await fetch(envelope.SigningCertURL)).text())
  t.ok(verify('sha256', Buffer.from(snsCanonicalNotification(envelope)), cert.publicKey, Buffer.from(envelope.Signature, 'base64')), 'the SNS signature verifies')
  t.match(JSON.parse(envelope.Message), { notificationType: 'wire', version: 1, wire: { status: 'complete' } })
})

t.test('webhook faults drop and duplicate deliveries', async (t) => {
  const { sim } = await harness(t, { webhookRetryDelayMs: 10 })
  await sim.listen()
  const hook = await receiver(t)
  await sim.app.inject({ method: 'POST', url: '/sim/webhooks', headers: sim.controlHeaders, payload: { url: hook.url } })
  await sim.app.inject({ method: 'PUT', url: '/sim/faults', headers: sim.controlHeaders, payload: { webhooks: { dropRate: 0, duplicateRate: 1, reorderMs: 0 } } })
  await sim.app.inject({ method: 'POST', url: '/v1/wallets', headers: auth, payload: { idempotencyKey: randomUUID() } })
  const wire = { idempotencyKey: randomUUID(), accountNumber: '12340010', routingNumber: '121000248', billingDetails: { name: 'A', city: 'B', country: 'US', line1: 'l', postalCode: '1' }, bankAddress: { country: 'US' } }
  await sim.app.inject({ method: 'POST', url: '/v1/businessAccount/banks/wires', headers: auth, payload: wire })
  await settle()
  await sim.webhooks.drain()
  t.equal(hook.got.length, 2, 'duplicated')
  await sim.app.inject({ method: 'PUT', url: '/sim/faults', headers: sim.controlHeaders, payload: { webhooks: { dropRate: 1, duplicateRate: 0, reorderMs: 0 } } })
  await sim.app.inject({ method: 'POST', url: '/v1/businessAccount/banks/wires', headers: auth, payload: { ...wire, idempotencyKey: randomUUID() } })
  await settle()
  await sim.webhooks.drain()
  t.equal(hook.got.length, 2, 'dropped')
})

t.test('the card issuer issues, freezes, unfreezes and closes cards, idempotently', async (t) => {
  const { sim } = await harness(t)
  const key = randomUUID()
  const issue = () => sim.app.inject({ method: 'POST', url: '/issuing/v1/cards', headers: auth, payload: { idempotencyKey: key, walletId: '1000000100', cardholderName: 'Ada' } })
  const card = (await issue()).json().data
  t.equal((await issue()).json().data.id, card.id)
  t.equal(card.status, 'pending')
  t.match(card.last4, /^\d{4}$/)
  await settle()
  for (const [action, status] of [['freeze', 'frozen'], ['unfreeze', 'active'], ['close', 'closed']]) {
    t.equal((await sim.app.inject({ method: 'POST', url: `/issuing/v1/cards/${card.id}/${action}`, headers: auth })).json().data.status, status)
  }
  t.equal((await sim.app.inject({ method: 'POST', url: `/issuing/v1/cards/${card.id}/unfreeze`, headers: auth })).statusCode, 400)
})

t.test('the control routes need the control token', async (t) => {
  const { sim } = await harness(t)
  for (const [method, url] of [['GET', '/sim/inspect'], ['PUT', '/sim/faults'], ['POST', '/sim/deposits'], ['PUT', '/sim/treasury']] as const) {
    const none = await sim.app.inject({ method, url, payload: {} })
    t.equal(none.statusCode, 401, `${method} ${url} without a token is 401`)
    const apiKey = await sim.app.inject({ method, url, headers: auth, payload: {} })
    t.equal(apiKey.statusCode, 401, `${method} ${url} with a Circle API key is 401`)
  }
  t.equal((await sim.app.inject({ method: 'GET', url: '/sim/inspect', headers: sim.controlHeaders })).statusCode, 200)
  const fixed = await createCircleSimulator({ controlToken: 'a-configured-control-token' })
  t.teardown(() => fixed.close())
  t.equal((await fixed.app.inject({ method: 'GET', url: '/sim/faults', headers: { authorization: 'Bearer a-configured-control-token' } })).statusCode, 200, 'a configured token works')
})

t.test('the simulator binds to loopback unless told otherwise', async (t) => {
  const sim = await createCircleSimulator()
  t.teardown(() => sim.close())
  t.match(await sim.listen(), /^http:\/\/127\.0\.0\.1:\d+$/)
})

t.test('GET /ping answers pong, as Circle documents', async (t) => {
  const { call } = await harness(t)
  const res = await call('GET', '/ping', '/ping')
  t.equal(res.statusCode, 200)
  t.same(res.json(), { message: 'pong' })
})

t.test('every request example Circle publishes for the calls the simulator serves is accepted', async (t) => {
  const { sim, call } = await harness(t)
  const posts = ['/v1/wallets', '/v1/wallets/{walletId}/addresses', '/v1/businessAccount/banks/wires', '/v1/transfers', '/v1/businessAccount/payouts']
  for (const path of posts) {
    const examples = requestExamples('POST', path)
    t.ok(examples.length > 0, `${path} has published examples`)
    for (const example of examples) t.same(requestErrors('POST', path, example.body), [], `${path} example "${example.name}" passes the contract check`)
  }
  t.same(
    requestExamples('POST', '/v1/businessAccount/banks/wires').map((e) => e.name).sort(),
    ['WireCreationRequestAccountNumber', 'WireCreationRequestIban', 'WireCreationRequestUs'],
    'one example per wire account branch',
  )
  // Circle's US example also matches the non-IBAN branch: strict oneOf refused it.
  const us = requestExamples('POST', '/v1/businessAccount/banks/wires').find((e) => e.name === 'WireCreationRequestUs')!.body as Record<string, unknown>
  const created = await call('POST', '/v1/businessAccount/banks/wires', '/v1/businessAccount/banks/wires', { ...us, idempotencyKey: randomUUID() })
  t.equal(created.statusCode, 201, 'the US wire example creates a wire account')
  // The rest end to end, with ids of resources that exist here.
  const wallet = (await call('POST', '/v1/wallets', '/v1/wallets', { ...(requestExamples('POST', '/v1/wallets')[0]!.body as object), idempotencyKey: randomUUID() })).json().data
  t.equal(wallet.description, 'Treasury Wallet')
  const address = requestExamples('POST', '/v1/wallets/{walletId}/addresses')[0]!.body as object
  t.equal((await call('POST', `/v1/wallets/${wallet.walletId}/addresses`, '/v1/wallets/{walletId}/addresses', { ...address, idempotencyKey: randomUUID() })).statusCode, 201)
  for (const example of requestExamples('POST', '/v1/transfers')) {
    const body = example.body as { source: object; amount: object }
    const res = await call('POST', '/v1/transfers', '/v1/transfers', { ...body, idempotencyKey: randomUUID(), source: { ...body.source, id: sim.masterWalletId } })
    t.equal(res.statusCode, 201, `transfer example "${example.name}" is accepted`)
  }
})

t.test('query strings are checked against Circle’s parameters', async (t) => {
  const { sim } = await harness(t)
  const bad = await sim.app.inject({ method: 'GET', url: '/v1/transfers?pageSize=0', headers: auth })
  t.equal(bad.statusCode, 400)
  t.match(bad.json(), { code: 2, errors: [{ location: 'pageSize', invalidValue: '0' }] })
  t.equal((await sim.app.inject({ method: 'GET', url: '/v1/transfers?from=yesterday', headers: auth })).statusCode, 400)
  t.equal((await sim.app.inject({ method: 'GET', url: '/v1/transfers?walletId=1&sourceWalletId=2', headers: auth })).statusCode, 400, 'walletId excludes source/destination')
})

const decodeBase58 = (s: string) => {
  const alphabet = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz'
  let n = 0n
  for (const c of s) n = n * 58n + BigInt(alphabet.indexOf(c))
  let hex = n.toString(16)
  if (hex.length % 2) hex = '0' + hex
  return Buffer.concat([Buffer.alloc(s.match(/^1*/)![0].length), Buffer.from(hex, 'hex')])
}

t.test('transaction hashes look like the chain’s own: base58 64-byte signatures on SOL, 0x + 64 hex on EVM', async (t) => {
  const { sim, call } = await harness(t, { treasury: '1000.00' })
  const send = (chain: string, address: string) =>
    call('POST', '/v1/transfers', '/v1/transfers', { idempotencyKey: randomUUID(), source: { type: 'wallet', id: sim.masterWalletId }, destination: { type: 'blockchain', chain, address }, amount: { amount: '1.00', currency: 'USD' } })
  const hashOf = async (id: string) => (await call('GET', `/v1/transfers/${id}`, '/v1/transfers/{id}')).json().data.transactionHash as string
  for (let i = 0; i < 20; i++) {
    const sol = await hashOf((await send('SOL', '4Nd1mBQtrMJVYVfKf2PJy9NZUZdTAsp7D4xWLs4gDB4T')).json().data.id)
    t.match(sol, /^[1-9A-HJ-NP-Za-km-z]{64,88}$/)
    t.equal(decodeBase58(sol).length, 64, 'a SOL hash is a 64-byte signature')
    for (const chain of ['ETH', 'BASE', 'POLY']) t.match(await hashOf((await send(chain, '0x8381470ED67C3802402dbbFa0058E8871F017A6F')).json().data.id), /^0x[0-9a-f]{64}$/)
  }
  const deposit = await sim.app.inject({ method: 'POST', url: '/sim/deposits', headers: sim.controlHeaders, payload: { walletId: sim.masterWalletId, amount: '1', chain: 'SOL' } })
  t.equal(decodeBase58(deposit.json().data.transactionHash).length, 64, 'deposits too')
})

t.test('GET /v1/transfers lists a wallet’s transfers newest first, filtered and paged as Circle does', async (t) => {
  const { sim, call } = await harness(t, { treasury: '1000.00' })
  const newWallet = async () => (await call('POST', '/v1/wallets', '/v1/wallets', { idempotencyKey: randomUUID() })).json().data.walletId as string
  const a = await newWallet()
  const b = await newWallet()
  const move = async (source: string, destination: string, amount: string) =>
    (await call('POST', '/v1/transfers', '/v1/transfers', { idempotencyKey: randomUUID(), source: { type: 'wallet', id: source }, destination: { type: 'wallet', id: destination }, amount: { amount, currency: 'USD' } })).json().data.id as string
  const ids: string[] = []
  for (let i = 1; i <= 5; i++) ids.push(await move(sim.masterWalletId, a, `${i}.00`))
  await settle()
  ids.push(await move(a, b, '1.00'))
  await move(sim.masterWalletId, b, '7.00')
  const list = async (query: string) => (await call('GET', `/v1/transfers?${query}`, '/v1/transfers')).json().data.map((x: { id: string }) => x.id) as string[]
  const newestFirst = [...ids].reverse()
  t.same(await list(`walletId=${a}`), newestFirst, 'every transfer from or to the wallet, newest first')
  t.same(await list(`destinationWalletId=${a}`), newestFirst.slice(1), 'only those into it')
  t.same(await list(`sourceWalletId=${a}`), [ids[5]], 'only those out of it')
  t.same(await list(`walletId=${a}&pageSize=2`), newestFirst.slice(0, 2), 'pageSize bounds a page')
  t.same(await list(`walletId=${a}&pageSize=2&pageAfter=${newestFirst[1]}`), newestFirst.slice(2, 4), 'pageAfter continues to older ones')
  t.same(await list(`walletId=${a}&pageSize=2&pageBefore=${newestFirst[4]}`), newestFirst.slice(2, 4), 'pageBefore goes back to newer ones')
  t.same(await list(`walletId=${a}&pageSize=500`), newestFirst, 'pageSize is capped, not refused')
  t.same(await list(`walletId=${a}&from=${new Date(Date.now() + 60_000).toISOString()}`), [], 'from bounds the creation date')
  t.equal((await list('pageSize=50')).length, 7, 'all transfers without a filter')
  t.same(await list(`sourceWalletId=${a}&destinationWalletId=${b}`), [ids[5]], 'source and destination together')
  t.same(await list(`sourceWalletId=${b}&destinationWalletId=${a}`), [], 'a pair with no transfer between them')
  t.same(await list(`walletId=${a}&to=${new Date(Date.now() - 60_000).toISOString()}`), [], 'to bounds the creation date')
  t.same(await list(`walletId=${a}&from=${new Date(Date.now() - 60_000).toISOString()}&to=${new Date(Date.now() + 60_000).toISOString()}`), newestFirst, 'a range holding them all')
  t.same(await list(`walletId=${b}&pageAfter=${ids[0]}`), [], 'a cursor outside the filtered list gives an empty page')
  const paged: string[] = []
  for (let after: string | undefined, n = 0; n < 10; n++) {
    const got = await list(`walletId=${a}&pageSize=2${after === undefined ? '' : `&pageAfter=${after}`}`)
    paged.push(...got)
    if (got.length < 2) break
    after = got.at(-1)
  }
  t.same(paged, newestFirst, 'paging with pageAfter visits each once, in order')
  const res = await sim.app.inject({ method: 'GET', url: `/v1/transfers?walletId=${a}&pageBefore=x&pageAfter=y`, headers: auth })
  t.equal(res.statusCode, 400, 'pageBefore with pageAfter is refused')
})

t.test('POST /sim/deposits makes an incoming transfer to an address, listed for the wallet and credited when complete', async (t) => {
  const { sim, call } = await harness(t)
  const walletId = (await call('POST', '/v1/wallets', '/v1/wallets', { idempotencyKey: randomUUID() })).json().data.walletId as string
  const address = (await call('POST', `/v1/wallets/${walletId}/addresses`, '/v1/wallets/{walletId}/addresses', { idempotencyKey: randomUUID(), currency: 'USD', chain: 'ETH' })).json().data.address as string
  const deposit = async (payload: object) => sim.app.inject({ method: 'POST', url: '/sim/deposits', headers: sim.controlHeaders, payload })
  const made = await deposit({ address, amount: '12.34' })
  t.equal(made.statusCode, 201)
  const transfer = made.json().data
  t.match(transfer, { status: 'pending', source: { type: 'blockchain', chain: 'ETH' }, destination: { type: 'wallet', id: walletId, address }, amount: { amount: '12.34', currency: 'USD' } })
  t.notOk(responseErrors('POST', '/v1/transfers', 201, made.json()), 'shaped like a Circle transfer')
  const listed = (await call('GET', `/v1/transfers?walletId=${walletId}`, '/v1/transfers')).json().data
  t.same(listed.map((x: { id: string }) => x.id), [transfer.id], 'visible through GET /v1/transfers?walletId=')
  await settle()
  t.equal((await call('GET', `/v1/transfers/${transfer.id}`, '/v1/transfers/{id}')).json().data.status, 'complete')
  t.equal(await sim.balanceOf(walletId), 12_340_000n, 'the wallet is credited')
  t.equal((await deposit({ walletId, amount: '1', chain: 'SOL' })).statusCode, 201, 'by wallet id, on a chain without an address yet')
  t.equal((await deposit({ address: 'nobody', amount: '1' })).statusCode, 404, 'an unknown address')
  t.equal((await deposit({ address, amount: '1', chain: 'SOL' })).statusCode, 400, 'a chain that is not the address’s')
  t.equal((await deposit({ walletId, amount: 1 })).statusCode, 400, 'a number amount')
  t.equal((await deposit({ amount: '1' })).statusCode, 400, 'neither address nor wallet')
  t.equal((await deposit({ walletId, amount: '0' })).statusCode, 400, 'a zero amount')
})

t.test('the wallet and address lists answer in Circle’s shapes, newest first and paged', async (t) => {
  const { call } = await harness(t)
  const created: string[] = []
  for (let i = 0; i < 3; i++) created.push((await call('POST', '/v1/wallets', '/v1/wallets', { idempotencyKey: randomUUID() })).json().data.walletId)
  const wallets = (await call('GET', '/v1/wallets?pageSize=2', '/v1/wallets')).json().data.map((w: { walletId: string }) => w.walletId)
  t.same(wallets, [created[2], created[1]])
  const walletId = created[0]!
  for (const chain of ['ETH', 'SOL']) await call('POST', `/v1/wallets/${walletId}/addresses`, '/v1/wallets/{walletId}/addresses', { idempotencyKey: randomUUID(), currency: 'USD', chain })
  const addresses = (await call('GET', `/v1/wallets/${walletId}/addresses`, '/v1/wallets/{walletId}/addresses')).json().data
  t.same(addresses.map((a: { chain: string }) => a.chain), ['SOL', 'ETH'])
})

t.test('divergence routes: funds moved, an unknown transfer, a silent completion; each needs the control token and a valid body', async (t) => {
  const sim = await createCircleSimulator({ settleMs: 60_000 })
  const url = await sim.listen()
  t.teardown(() => sim.close())
  const post = (path: string, body?: unknown, headers: Record<string, string> = sim.controlHeaders) =>
    fetch(`${url}${path}`, { method: 'POST', headers: { ...headers, ...(body === undefined ? {} : { 'content-type': 'application/json' }) }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) })
  const wallet = (await (await fetch(`${url}/v1/wallets`, { method: 'POST', headers: { authorization: 'Bearer K', 'content-type': 'application/json' }, body: JSON.stringify({ idempotencyKey: randomUUID(), description: 'x' }) })).json()) as { data: { walletId: string } }
  const id = wallet.data.walletId

  t.equal((await post(`/sim/wallets/${id}/adjust`, { amount: '5.00' }, {})).status, 401, 'no token, no divergence')
  t.equal((await post(`/sim/wallets/${id}/adjust`, { amount: 'five' })).status, 400)
  t.equal((await post(`/sim/wallets/${id}/adjust`, { amount: '-1.00' })).status, 400, 'a balance never goes below zero')
  t.equal((await post(`/sim/wallets/${id}/adjust`, { amount: '9.00' })).status, 200)
  t.equal(await sim.balanceOf(id), parseAmount('9'))

  t.equal((await post('/sim/transfers', { sourceWalletId: id, amount: '1.00' })).status, 400, 'a destination is required')
  const sent = await post('/sim/transfers', { sourceWalletId: id, address: '0x2f8c2b0d3e5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c', chain: 'ETH', amount: '2.00' })
  t.equal(sent.status, 201)
  const transfer = ((await sent.json()) as { data: { id: string; status: string } }).data
  t.equal(transfer.status, 'pending')
  t.equal(await sim.balanceOf(id), parseAmount('7'), 'the source is debited at once, like any transfer')
  t.equal((await sim.creations()).some((c) => c.id === transfer.id), false, 'no idempotency key of ours made it')

  const done = await post(`/sim/transfers/${transfer.id}/complete`)
  t.equal(done.status, 200)
  t.equal(((await done.json()) as { data: { status: string } }).data.status, 'complete', 'settled before its time, with no notification')
  t.equal((await post(`/sim/payouts/${randomUUID()}/complete`)).status, 404)
})

t.test('the simulator keeps only the latest requests for inspection, and counts them all', async (t) => {
  const { sim } = await harness(t, { keepRequests: 4 })
  for (let i = 0; i < 10; i++) {
    const res = await sim.app.inject({ method: 'POST', url: '/v1/wallets', headers: auth, payload: { idempotencyKey: randomUUID(), description: `w${i}` } })
    t.equal(res.statusCode, 201)
  }
  t.ok(sim.received.length >= 1 && sim.received.length <= 4, `at most 4 kept (${sim.received.length})`)
  t.equal(sim.received.at(-1)?.path, '/v1/wallets', 'the latest is among them')
  const inspect = await sim.app.inject({ method: 'GET', url: '/sim/inspect', headers: sim.controlHeaders })
  t.equal(inspect.json().received, 10, 'the count is of every request')
})
