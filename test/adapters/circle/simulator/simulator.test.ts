import { createPublicKey, randomUUID, verify, X509Certificate } from 'node:crypto'
import { createServer, type IncomingMessage } from 'node:http'
import t, { type Test } from 'tap'
import { responseErrors } from '../../../../src/adapters/circle/simulator/contract.ts'
import { createCircleSimulator } from '../../../../src/adapters/circle/simulator/simulator.ts'
import { snsCanonicalNotification } from '../../../../src/adapters/circle/simulator/webhooks.ts'

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
  t.equal(sim.creations.filter((c) => c.idempotencyKey === key).length, 1, 'one wallet')
  t.equal(sim.creations.find((c) => c.idempotencyKey === key)?.requests, 2, 'two requests seen for the key')
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
  t.equal(sim.balanceOf(walletId), 200_000_000n)
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

t.test('injected failures settle transfers and payouts as failed and give the funds back', async (t) => {
  const { sim, call } = await harness(t)
  sim.setFaults({ failAmounts: ['13.00'], failPayoutAmounts: [] })
  const { walletId } = (await call('POST', '/v1/wallets', '/v1/wallets', { idempotencyKey: randomUUID(), description: 'w' })).json().data
  const before = sim.balanceOf(sim.masterWalletId)!
  const res = await call('POST', '/v1/transfers', '/v1/transfers', { idempotencyKey: randomUUID(), source: { type: 'wallet', id: sim.masterWalletId }, destination: { type: 'wallet', id: walletId }, amount: { amount: '13.00', currency: 'USD' } })
  await settle()
  t.match((await call('GET', `/v1/transfers/${res.json().data.id}`, '/v1/transfers/{id}')).json().data, { status: 'failed', errorCode: 'transfer_failed' })
  t.equal(sim.balanceOf(sim.masterWalletId), before)
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
  await sim.app.inject({ method: 'POST', url: '/sim/webhooks', payload: { url: hook.url, version: 'v2' } })
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
  await sim.app.inject({ method: 'POST', url: '/sim/webhooks', payload: { url: hook.url, version: 'v1' } })
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
  await sim.app.inject({ method: 'POST', url: '/sim/webhooks', payload: { url: hook.url } })
  await sim.app.inject({ method: 'PUT', url: '/sim/faults', payload: { webhooks: { dropRate: 0, duplicateRate: 1, reorderMs: 0 } } })
  await sim.app.inject({ method: 'POST', url: '/v1/wallets', headers: auth, payload: { idempotencyKey: randomUUID() } })
  const wire = { idempotencyKey: randomUUID(), accountNumber: '12340010', routingNumber: '121000248', billingDetails: { name: 'A', city: 'B', country: 'US', line1: 'l', postalCode: '1' }, bankAddress: { country: 'US' } }
  await sim.app.inject({ method: 'POST', url: '/v1/businessAccount/banks/wires', headers: auth, payload: wire })
  await settle()
  await sim.webhooks.drain()
  t.equal(hook.got.length, 2, 'duplicated')
  await sim.app.inject({ method: 'PUT', url: '/sim/faults', payload: { webhooks: { dropRate: 1, duplicateRate: 0, reorderMs: 0 } } })
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
