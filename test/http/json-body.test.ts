import t from 'tap'
import { keyProblem, parseJsonBody } from '../../src/http/json-body.ts'
import { auth } from '../helpers/app.ts'
import { httpHarness } from '../helpers/http.ts'

const refusal = (fn: () => unknown) => {
  try {
    fn()
  } catch (err) {
    const e = err as { statusCode: number; code: string; message: string; details?: unknown }
    return { status: e.statusCode, code: e.code, message: e.message, details: e.details }
  }
  return undefined
}

t.test('keyProblem finds a key twice in one object, at any depth, escaped or not, and forbidden keys; the same key in two objects is fine', async (t) => {
  t.same(keyProblem('{"amount":"1","amount":"2"}'), { kind: 'duplicate', key: 'amount', path: ['amount'] })
  t.same(keyProblem('{"a":{"x":1},"destination":{"walletId":"w","type":"wallet","walletId":"v"}}'), { kind: 'duplicate', key: 'walletId', path: ['destination', 'walletId'] })
  t.same(keyProblem('{"items":[{"k":1},{"k":2,"k":3}]}'), { kind: 'duplicate', key: 'k', path: ['items', '1', 'k'] })
  t.same(keyProblem('{"amount":"1","\\u0061mount":"2"}'), { kind: 'duplicate', key: 'amount', path: ['amount'] }, 'an escaped spelling of the same key')
  t.same(keyProblem('{"ownerId":"u","__proto__":{"x":1}}'), { kind: 'forbidden', key: '__proto__', path: ['__proto__'] })
  t.same(keyProblem('{"a":{"constructor":{}}}'), { kind: 'forbidden', key: 'constructor', path: ['a', 'constructor'] })
  t.equal(keyProblem('{"a":{"k":1},"b":{"k":1},"c":[{"k":1},{"k":1}],"s":"\\"a\\":1,\\"a\\":2 {[,"}'), undefined, 'the same key in sibling objects, and brackets and quotes inside strings')
  t.equal(keyProblem('[1,2,{"a":"}"}]'), undefined)
})

t.test('parseJsonBody: UTF-8 only, said in the charset and in the bytes; an empty body is no body', async (t) => {
  t.same(parseJsonBody(Buffer.from('{"ownerId":"é"}'), 'application/json; charset=UTF-8'), { ownerId: 'é' })
  t.equal(parseJsonBody(Buffer.from('  '), 'application/json'), undefined)
  t.match(refusal(() => parseJsonBody(Buffer.from('{"a":1}'), 'application/json; charset=latin1')), { status: 415, code: 'unsupported_media_type', message: 'send the body as JSON in UTF-8 (got charset=latin1)' })
  t.match(refusal(() => parseJsonBody(Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d]), 'application/json')), { status: 400, code: 'invalid_json', message: 'the body is not valid UTF-8' })
  t.match(refusal(() => parseJsonBody(Buffer.from('{"a":'), 'application/json')), { status: 400, code: 'invalid_json' })
  t.match(refusal(() => parseJsonBody(Buffer.from('{"amount":"1","amount":"2"}'), 'application/json')), {
    status: 400,
    code: 'validation_failed',
    details: [{ field: 'body.amount', message: 'amount appears more than once in its object: send each field once' }],
  })
})

t.test('over HTTP: a duplicated amount, bytes that are not UTF-8 and __proto__ are refused and change nothing', async (t) => {
  const { client, activeWallet, get } = await httpHarness(t)
  const walletId = await activeWallet()
  const send = (payload: string | Buffer, contentType = 'application/json') =>
    client.call({ method: 'POST', url: '/mint', payload, headers: { ...auth.backend, 'content-type': contentType, 'idempotency-key': `k-${Math.random()}` } })
  const twice = await send(`{"walletId":"${walletId}","amount":"1","amount":"2"}`)
  t.equal(twice.statusCode, 400)
  t.match(twice.json(), { error: { code: 'validation_failed', details: [{ field: 'body.amount' }] }, requestId: String })
  const latin = await send(Buffer.concat([Buffer.from(`{"walletId":"${walletId}","amount":"1","note":"`), Buffer.from([0xe9]), Buffer.from('"}')]))
  t.equal(latin.statusCode, 400)
  t.equal(latin.json().error.code, 'invalid_json')
  t.equal((await send(`{"walletId":"${walletId}","amount":"1"}`, 'application/json; charset=iso-8859-1')).statusCode, 415)
  const proto = await client.call({ method: 'POST', url: '/wallets', payload: '{"ownerId":"u","__proto__":"x"}', headers: { ...auth.backend, 'content-type': 'application/json', 'idempotency-key': 'proto' } })
  t.equal(proto.statusCode, 400)
  t.same(proto.json().error.details, [{ field: 'body.__proto__', message: '__proto__ is not a known field' }])
  t.same((await get('/mints')).json().items, [], 'no mint was requested')
})
