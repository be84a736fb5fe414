import { createPublicKey, sign, verify } from 'node:crypto'
import t from 'tap'
import { CirclePublicKeys, KeyUnavailable, parseCirclePublicKey } from '../../src/webhooks/public-keys.ts'
import { circleKey } from '../helpers/webhooks.ts'

// Circle's documentation ("Verify webhook signatures"): the key served for a key id, and a signature header.
const DOCUMENTED_KEY = 'MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAESl76SZPBJemW0mJNN4KTvYkLT8bOT4UGhFhzNk3fJqf6iuPlLQLq533FelXwczJbjg2U1PHTvQTK7qOQnDL2Tg=='
const DOCUMENTED_SIGNATURE = 'MEYCIQCA9EvPbdEJiy7Cw0eY+KQZA/oFi5ZEInPs8CYpyaJexgIhAKtRNnDz9QRQmFKx8QFrvawp+8b9Bs2dQ03xD+XaWVDE'

t.test("Circle's documented key is base64 DER SPKI of a P-256 key, and its signature header is a DER ECDSA signature", async (t) => {
  const key = parseCirclePublicKey(DOCUMENTED_KEY)
  t.equal(key.asymmetricKeyType, 'ec')
  t.equal(key.asymmetricKeyDetails?.namedCurve, 'prime256v1')
  const sig = Buffer.from(DOCUMENTED_SIGNATURE, 'base64')
  // DER: SEQUENCE (0x30) of the stated length holding two INTEGERs (0x02), r then s.
  t.equal(sig[0], 0x30)
  t.equal(sig[1], sig.length - 2)
  t.equal(sig[2], 0x02)
  t.equal(sig[4 + sig[3]!], 0x02)
  t.equal(sig.length, 72, 'not a raw 64-byte r||s')
})

t.test('we verify DER signatures over the exact body bytes, as Circle signs, and refuse the raw r||s form', async (t) => {
  const k = circleKey()
  const body = Buffer.from('{"notificationId":"x","notificationType":"webhooks.test"}')
  const publicKey = createPublicKey({ key: Buffer.from(k.publicKeyBase64, 'base64'), format: 'der', type: 'spki' })
  const der = sign('sha256', body, k.privateKey)
  const raw = sign('sha256', body, { key: k.privateKey, dsaEncoding: 'ieee-p1363' })
  t.ok(verify('sha256', body, parseCirclePublicKey(k.publicKeyBase64), der))
  t.notOk(verify('sha256', body, publicKey, raw), 'the raw form is not what we accept')
  t.notOk(verify('sha256', Buffer.from(JSON.stringify(JSON.parse(body.toString()), null, 1)), publicKey, der), 'a re-serialised body no longer verifies')
})

t.test('keys are fetched once per id with the API key, bounded, and unknown ids are remembered for the negative TTL', async (t) => {
  const keys = Array.from({ length: 3 }, () => circleKey())
  const calls: { url: string; auth: string | null }[] = []
  let now = 0
  const fetchStub = (async (url: string, init?: RequestInit) => {
    calls.push({ url, auth: new Headers(init?.headers).get('authorization') })
    const found = keys.find((k) => url.endsWith(k.id))
    if (!found) return new Response('{"code":404,"message":"Not found."}', { status: 404 })
    return new Response(JSON.stringify({ data: { id: found.id, algorithm: 'ECDSA_SHA_256', publicKey: found.publicKeyBase64 } }))
  }) as typeof fetch
  const realNow = Date.now
  Date.now = () => realNow() + now
  t.teardown(() => void (Date.now = realNow))
  const source = new CirclePublicKeys({ baseUrl: 'https://api.circle.com/', apiKey: 'K', maxEntries: 2, negativeTtlMs: 1000, fetch: fetchStub })

  await Promise.all([source.get(keys[0]!.id), source.get(keys[0]!.id)])
  t.equal(calls.length, 1, 'concurrent lookups share one call')
  t.equal(calls[0]!.url, `https://api.circle.com/v2/notifications/publicKey/${keys[0]!.id}`)
  t.equal(calls[0]!.auth, 'Bearer K')
  await source.get(keys[1]!.id)
  await source.get(keys[2]!.id)
  await source.get(keys[0]!.id)
  t.equal(calls.length, 4, 'past maxEntries the least recently used key was dropped and fetched again')

  const unknown = '00000000-0000-4000-8000-000000000000'
  t.equal(await source.get(unknown), undefined)
  t.equal(await source.get(unknown), undefined)
  t.equal(calls.length, 5, 'the negative cache answers the second time')
  now = 1500
  await source.get(unknown)
  t.equal(calls.length, 6, 'after the TTL Circle is asked again')
})

t.test('Circle unreachable or answering 5xx is KeyUnavailable and is not cached as unknown', async (t) => {
  let status = 503
  const source = new CirclePublicKeys({ baseUrl: 'https://api.circle.com', apiKey: 'K', fetch: (async () => new Response('{}', { status })) as unknown as typeof fetch })
  await t.rejects(source.get('00000000-0000-4000-8000-000000000001'), KeyUnavailable)
  status = 404
  t.equal(await source.get('00000000-0000-4000-8000-000000000001'), undefined)
  const down = new CirclePublicKeys({ baseUrl: 'https://api.circle.com', apiKey: 'K', fetch: (async () => Promise.reject(new Error('ECONNREFUSED'))) as unknown as typeof fetch })
  await t.rejects(down.get('00000000-0000-4000-8000-000000000002'), KeyUnavailable)
})
