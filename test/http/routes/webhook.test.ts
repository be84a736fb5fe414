import { generateKeyPairSync } from 'node:crypto'
import t, { type Test } from 'tap'
import { CirclePublicKeys, KeyUnavailable } from '../../../src/webhooks/public-keys.ts'
import { SnsCertificates } from '../../../src/webhooks/sns.ts'
import { WebhookVerifier } from '../../../src/webhooks/verify.ts'
import { httpHarness } from '../../helpers/http.ts'
import { CERT_URL, circleKey, circleMessage, SNS_CERT, snsDelivery, TOPIC, v2Delivery } from '../../helpers/webhooks.ts'

const key = circleKey()
const transfer = { id: 'b8627ae8-732b-4d25-b947-1df8f4007a29', status: 'complete', amount: { amount: '3.14', currency: 'USD' } }

async function harness(t: Test, rateLimitMax = 1000) {
  const keyCalls: string[] = []
  const certCalls: string[] = []
  const confirmed: string[] = []
  // Circle's key endpoint, answering like Circle: the known key, 404 for any other id.
  const publicKeys = new CirclePublicKeys({
    baseUrl: 'https://api-sandbox.circle.com',
    apiKey: 'TEST_KEY',
    fetch: (async (url: string) => {
      keyCalls.push(url)
      const id = url.split('/').pop()
      if (id !== key.id) return new Response(JSON.stringify({ code: 404, message: 'Not found.' }), { status: 404 })
      return new Response(JSON.stringify({ data: { id, algorithm: 'ECDSA_SHA_256', publicKey: key.publicKeyBase64, createDate: '2026-01-01T00:00:00Z' } }))
    }) as typeof fetch,
  })
  const verifier = new WebhookVerifier({
    publicKeys,
    certificates: new SnsCertificates({ fetchText: async (url) => (certCalls.push(url), SNS_CERT) }),
    snsTopicArns: [TOPIC],
    confirmSubscription: async (url) => void confirmed.push(url),
  })
  const h = await httpHarness(t, { webhooks: { verifier, rateLimit: { max: rateLimitMax, windowMs: 60_000 } } })
  const send = async (delivery: { body: string; headers: Record<string, string> }) => {
    const res = await h.app.inject({ method: 'POST', url: '/webhook', payload: delivery.body, headers: delivery.headers })
    h.client.validate('POST', '/webhook', res)
    return res
  }
  const rows = async () => h.db.selectFrom('webhook_inbox').selectAll().execute()
  return { ...h, send, rows, keyCalls, certCalls, confirmed, publicKeys }
}
type Harness = Awaited<ReturnType<typeof harness>>

t.test('a valid v2 notification is stored once and answered 200; its redelivery is a duplicate', async (t) => {
  const h = await harness(t)
  const delivery = v2Delivery(key, 'transfers', transfer)
  const first = await h.send(delivery)
  t.equal(first.statusCode, 200)
  t.same(first.json(), { status: 'accepted', id: delivery.notificationId })
  const again = await h.send(delivery)
  t.equal(again.statusCode, 200)
  t.same(again.json(), { status: 'duplicate', id: delivery.notificationId })
  const rows = await h.rows()
  t.equal(rows.length, 1)
  t.equal(rows[0]!.notification_type, 'transfers')
  t.same(rows[0]!.resource, transfer)
  t.equal(rows[0]!.status, 'pending')
  t.equal(h.keyCalls.length, 1, 'the key is fetched once and cached')
  const metrics = (await h.app.inject({ method: 'GET', url: '/metrics', headers: { authorization: 'Bearer dev-auditor-key' } })).body
  t.match(metrics, /webhooks_total\{stage="verified"\} 2/)
  t.match(metrics, /webhooks_total\{stage="duplicate"\} 1/)
})

for (const version of ['1', '2'] as const) {
  t.test(`a valid v1 SNS notification signed with SignatureVersion ${version} is stored (text/plain body)`, async (t) => {
    const h = await harness(t)
    const delivery = snsDelivery({ SignatureVersion: version, Message: circleMessage('transfers', 'transfer', transfer), Subject: version === '1' ? 'with subject' : undefined })
    const res = await h.send(delivery)
    t.equal(res.statusCode, 200, res.body)
    t.same(res.json(), { status: 'accepted', id: delivery.envelope.MessageId })
    const rows = await h.rows()
    t.equal(rows.length, 1)
    t.equal(rows[0]!.scheme, 'sns')
    t.same(rows[0]!.resource, transfer, 'the resource is taken from the Message')
    t.same(h.certCalls, [CERT_URL])
  })
}

t.test('a SubscriptionConfirmation for our topic is confirmed by GETting its SubscribeURL', async (t) => {
  const h = await harness(t)
  const delivery = snsDelivery({ Type: 'SubscriptionConfirmation', Message: 'You have chosen to subscribe' })
  const res = await h.send(delivery)
  t.equal(res.statusCode, 200, res.body)
  t.equal(res.json().status, 'confirmed')
  t.same(h.confirmed, [delivery.envelope.SubscribeURL])
  t.equal((await h.rows()).length, 0, 'control messages are not stored')
})

/** Every way a notification can fail verification: each gets 401 with the error body and stores nothing. */
const otherKey = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey
const otherRsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'pem', type: 'pkcs8' }).toString()
const cases: { name: string; reason: string; delivery: () => { body: string; headers: Record<string, string> } }[] = [
  {
    name: 'a tampered v2 body',
    reason: 'invalid_signature',
    delivery: () => {
      const d = v2Delivery(key, 'transfers', transfer)
      return { ...d, body: d.body.replace('3.14', '314.00') }
    },
  },
  { name: 'a v2 body signed with the wrong key', reason: 'invalid_signature', delivery: () => v2Delivery({ id: key.id, privateKey: otherKey }, 'transfers', transfer) },
  { name: 'an unknown key id', reason: 'unknown_key', delivery: () => v2Delivery({ id: '6d7a3f5e-4c1b-4a2e-9f0d-1b2c3d4e5f60', privateKey: key.privateKey }, 'transfers', transfer) },
  {
    name: 'a key id that is not a UUID',
    reason: 'invalid_key_id',
    delivery: () => v2Delivery({ id: '../../v1/wallets', privateKey: key.privateKey }, 'transfers', transfer),
  },
  {
    name: 'a v2 notification without a signature',
    reason: 'missing_signature',
    delivery: () => {
      const d = v2Delivery(key, 'transfers', transfer)
      const { 'x-circle-signature': _s, ...headers } = d.headers
      return { body: d.body, headers }
    },
  },
  { name: 'a body with no signature of either kind', reason: 'missing_signature', delivery: () => ({ body: JSON.stringify({ notificationType: 'transfers', notification: transfer }), headers: { 'content-type': 'application/json' } }) },
  {
    name: 'an SNS envelope without its Signature',
    reason: 'missing_signature',
    delivery: () => {
      const d = snsDelivery({ Message: circleMessage('transfers', 'transfer', transfer) })
      const { Signature: _s, ...envelope } = d.envelope
      return { body: JSON.stringify(envelope), headers: d.headers }
    },
  },
  {
    name: 'a tampered SNS Message',
    reason: 'invalid_signature',
    delivery: () => {
      const d = snsDelivery({ Message: circleMessage('transfers', 'transfer', transfer) })
      return { body: JSON.stringify({ ...d.envelope, Message: circleMessage('transfers', 'transfer', { ...transfer, status: 'failed' }) }), headers: d.headers }
    },
  },
  { name: 'an SNS envelope signed by another key', reason: 'invalid_signature', delivery: () => snsDelivery({ Message: circleMessage('transfers', 'transfer', transfer) }, { key: otherRsa }) },
  {
    name: 'a certificate URL on another host',
    reason: 'certificate_url_not_allowed',
    delivery: () => snsDelivery({ Message: circleMessage('transfers', 'transfer', transfer), SigningCertURL: 'https://sns.us-east-1.amazonaws.com.evil.example/cert.pem' }),
  },
  {
    name: 'a certificate URL over http',
    reason: 'certificate_url_not_allowed',
    delivery: () => snsDelivery({ Message: circleMessage('transfers', 'transfer', transfer), SigningCertURL: 'http://sns.us-east-1.amazonaws.com/SimpleNotificationService-0.pem' }),
  },
  {
    name: 'a notification from an unknown topic',
    reason: 'unknown_topic',
    delivery: () => snsDelivery({ Message: circleMessage('transfers', 'transfer', transfer), TopicArn: 'arn:aws:sns:us-east-1:123456789012:someone-else' }),
  },
  {
    name: 'a SubscriptionConfirmation for an unknown topic',
    reason: 'unknown_topic',
    delivery: () => snsDelivery({ Type: 'SubscriptionConfirmation', Message: 'subscribe', TopicArn: 'arn:aws:sns:us-east-1:123456789012:someone-else' }),
  },
  {
    name: 'an unsupported SignatureVersion',
    reason: 'unsupported_signature_version',
    delivery: () => {
      const d = snsDelivery({ Message: circleMessage('transfers', 'transfer', transfer) })
      return { body: JSON.stringify({ ...d.envelope, SignatureVersion: '3' }), headers: d.headers }
    },
  },
]

t.test('unverifiable notifications get 401 with the error body and leave no inbox row', async (t) => {
  const h: Harness = await harness(t)
  for (const c of cases) {
    const res = await h.send(c.delivery())
    t.equal(res.statusCode, 401, c.name)
    t.equal(res.json().error.code, 'invalid_signature', c.name)
    t.same(res.json().error.details, { reason: c.reason }, c.name)
  }
  t.equal((await h.rows()).length, 0, 'nothing stored')
  t.same(h.confirmed, [], 'no subscription was confirmed')
  t.notOk(h.certCalls.some((u) => !u.startsWith('https://sns.us-east-1.amazonaws.com/')), 'no certificate fetched from a disallowed URL')
  const metrics = (await h.app.inject({ method: 'GET', url: '/metrics', headers: { authorization: 'Bearer dev-auditor-key' } })).body
  t.match(metrics, new RegExp(`webhooks_total\\{stage="rejected"\\} ${cases.length}`))
})

t.test('a verified notification holding text PostgreSQL cannot store gets 400 naming the field, and leaves no inbox row', async (t) => {
  const h: Harness = await harness(t)
  const cases = [
    { name: 'a NUL', resource: { ...transfer, status: 'comp\u0000lete' }, field: 'notification.resource.status' },
    { name: 'an unpaired surrogate', resource: { ...transfer, source: { type: 'blockchain', address: '0x\ud800' } }, field: 'notification.resource.source.address' },
  ]
  for (const c of cases) {
    const res = await h.send(v2Delivery(key, 'transfers', c.resource))
    t.equal(res.statusCode, 400, c.name)
    t.equal(res.json().error.code, 'validation_failed', c.name)
    t.same(res.json().error.details.map((d: { field: string }) => d.field), [c.field], c.name)
  }
  t.equal((await h.rows()).length, 0, 'nothing stored')
  t.equal((await h.send(v2Delivery(key, 'transfers', transfer))).statusCode, 200, 'the next good notification is stored')
})

t.test('an unknown key id is asked of Circle once, then answered from the negative cache', async (t) => {
  const h = await harness(t)
  const unknown = { id: 'a1b2c3d4-0000-4000-8000-000000000001', privateKey: key.privateKey }
  for (let i = 0; i < 5; i++) t.equal((await h.send(v2Delivery(unknown, 'transfers', transfer))).statusCode, 401)
  t.equal(h.keyCalls.length, 1)
  t.equal((await h.send(v2Delivery({ id: '!!', privateKey: key.privateKey }, 'transfers', transfer))).statusCode, 401)
  t.equal(h.keyCalls.length, 1, 'a malformed key id never reaches Circle')
})

t.test('HEAD /webhook answers 200 without a key', async (t) => {
  const h = await harness(t)
  const res = await h.app.inject({ method: 'HEAD', url: '/webhook' })
  t.equal(res.statusCode, 200)
})

t.test('the webhook route is rate limited per source address', async (t) => {
  const h = await harness(t, 3)
  const codes = []
  for (let i = 0; i < 5; i++) codes.push((await h.send(v2Delivery(key, 'transfers', transfer))).statusCode)
  t.same(codes, [200, 200, 200, 429, 429])
  const other = await h.app.inject({ method: 'POST', url: '/webhook', payload: v2Delivery(key, 'transfers', transfer).body, headers: v2Delivery(key, 'transfers', transfer).headers, remoteAddress: '10.0.0.9' })
  t.not(other.statusCode, 429, 'another address has its own budget')
})

t.test('when Circle cannot be asked for the key, the answer is 503 (Circle delivers again later) and nothing is stored', async (t) => {
  const verifier = new WebhookVerifier({
    publicKeys: { get: async () => Promise.reject(new KeyUnavailable('Circle answered 503')) },
    certificates: new SnsCertificates({ fetchText: async () => Promise.reject(new Error('ECONNRESET')) }),
    snsTopicArns: [TOPIC],
  })
  const h = await httpHarness(t, { webhooks: { verifier, rateLimit: { max: 100, windowMs: 60_000 } } })
  for (const d of [v2Delivery(key, 'transfers', transfer), snsDelivery({ Message: circleMessage('transfers', 'transfer', transfer) })]) {
    const res = await h.app.inject({ method: 'POST', url: '/webhook', payload: d.body, headers: d.headers })
    h.client.validate('POST', '/webhook', res)
    t.equal(res.statusCode, 503)
    t.equal(res.json().error.code, 'verification_unavailable')
  }
  t.equal((await h.db.selectFrom('webhook_inbox').selectAll().execute()).length, 0)
})

t.test('a notification that cannot change anything (a transfer not ended yet) is stored already processed', async (t) => {
  const h = await harness(t)
  const pending = v2Delivery(key, 'transfers', { ...transfer, status: 'pending' })
  t.equal((await h.send(pending)).statusCode, 200)
  const ended = v2Delivery(key, 'transfers', transfer)
  t.equal((await h.send(ended)).statusCode, 200)
  const rows = await h.rows()
  t.equal(rows.find((r) => r.id === pending.notificationId)?.status, 'processed')
  t.equal(rows.find((r) => r.id === ended.notificationId)?.status, 'pending', 'a completed transfer waits for the worker')
})
