import t from 'tap'
import { CircleError } from '../../../src/adapters/circle/port.ts'
import { fakeWireAccounts } from '../../helpers/app.ts'
import { httpHarness } from '../../helpers/http.ts'

const billingDetails = { name: 'Ada Lovelace', line1: '1 Main St', city: 'Boston', postalCode: '02201', country: 'US', district: 'MA' }
const us = { ownerId: 'owner-1', accountNumber: '123456789012', routingNumber: '121000248', billingDetails, bankAddress: { bankName: 'Wells Fargo', country: 'US' }, description: 'payroll' }
const iban = { ownerId: 'owner-1', iban: 'DE89370400440532013000', billingDetails: { ...billingDetails, country: 'DE', district: undefined }, bankAddress: { country: 'DE', city: 'Frankfurt' } }
const swift = { ownerId: 'owner-1', accountNumber: '0321800123', routingNumber: 'SBININBB354', billingDetails: { ...billingDetails, country: 'IN', district: undefined }, bankAddress: { bankName: 'State Bank of India', city: 'Mumbai', country: 'IN' } }

t.test('a US account is sent to Circle whole, but only its last 4 digits are kept', async (t) => {
  const circle = fakeWireAccounts()
  const { post, get, store } = await httpHarness(t, { circle })
  const res = await post('/bank-accounts', us)
  t.equal(res.statusCode, 202)
  t.match(res.json(), { ownerId: 'owner-1', status: 'pending', last4: '9012', description: 'payroll' })
  t.ok(res.json().circleWireId, 'Circle accepted it')
  t.same((await get(res.headers.location as string)).json(), res.json())
  t.equal(circle.calls.length, 1)
  t.match(circle.calls[0]?.details, { accountNumber: '123456789012', routingNumber: '121000248' })
  const everything = JSON.stringify(await store.readAll({ maxCount: 10_000 }))
  t.notMatch(everything, /123456789012/, 'the full account number is in no event')
})

t.test('an IBAN account keeps its last 4 characters', async (t) => {
  const { post, store } = await httpHarness(t)
  const res = await post('/bank-accounts', iban)
  t.equal(res.statusCode, 202)
  t.equal(res.json().last4, '3000')
  t.notMatch(JSON.stringify(await store.readAll({ maxCount: 10_000 })), /DE89370400440532013000/)
})

t.test('bad account details are 400 and reach neither Circle nor the event store', async (t) => {
  const circle = fakeWireAccounts()
  const { post, store } = await httpHarness(t, { circle })
  for (const body of [
    { ...us, routingNumber: '121000249' },
    { ...us, accountNumber: '12ab' },
    { ...iban, iban: 'DE00370400440532013000' },
    { ...us, iban: iban.iban },
    { ...us, billingDetails: { ...billingDetails, country: 'usa' } },
    { ...us, billingDetails: { ...billingDetails, country: 'XX' } },
    { ...iban, bankAddress: { ...iban.bankAddress, country: 'EU' } },
    { ...us, ownerId: ' owner-1' },
  ]) {
    t.equal((await post('/bank-accounts', body)).statusCode, 400)
  }
  t.equal(circle.calls.length, 0)
  t.equal(await store.head(), undefined)
})

t.test('details Circle would refuse are an immediate 400 naming the field, never a 202 then circle_2', async (t) => {
  const circle = fakeWireAccounts()
  const { post, store } = await httpHarness(t, { circle })
  const cases: [unknown, string, RegExp][] = [
    [{ ...iban, bankAddress: { country: 'DE' } }, 'body.bankAddress.city', /bankAddress\.city is required for an IBAN account/],
    [{ ...us, routingNumber: '121000249' }, 'body.routingNumber', /not a valid ABA routing number/],
    [{ ...us, billingDetails: { ...billingDetails, district: undefined } }, 'body.billingDetails.district', /district .* is required when billingDetails.country is US/],
    [{ ...swift, bankAddress: { city: 'Mumbai', country: 'IN' } }, 'body.bankAddress.bankName', /bankName is required/],
    [{ ...swift, routingNumber: '121000248' }, 'body.routingNumber', /SWIFT\/BIC/],
  ]
  for (const [body, field, message] of cases) {
    const res = await post('/bank-accounts', body)
    t.equal(res.statusCode, 400, field)
    t.equal(res.json().error.code, 'validation_failed')
    t.same(res.json().error.details.map((d: { field: string }) => d.field), [field], `one detail, naming ${field}`)
    t.match(res.json().error.message, message)
  }
  t.equal(circle.calls.length, 0, 'Circle was never called')
  t.equal(await store.head(), undefined)
})

t.test('an account at a bank outside the US without IBAN goes to Circle with its SWIFT code', async (t) => {
  const circle = fakeWireAccounts()
  const { post } = await httpHarness(t, { circle })
  const res = await post('/bank-accounts', swift)
  t.equal(res.statusCode, 202)
  t.match(circle.calls[0]?.details, { accountNumber: '0321800123', routingNumber: 'SBININBB354', bankAddress: { bankName: 'State Bank of India' } })
})

t.test('Prefer: wait on a bank account answers 201 once Circle has linked it, with Preference-Applied', async (t) => {
  const { post } = await httpHarness(t, { circle: { createWireAccount: async () => ({ id: 'wire-linked', status: 'complete' }) } })
  const res = await post('/bank-accounts', us, { prefer: 'wait=5' })
  t.equal(res.statusCode, 201)
  t.equal(res.headers['preference-applied'], 'wait=5')
  t.match(res.json(), { status: 'active', circleWireId: 'wire-linked' })
  t.match(res.headers.location, /^\/bank-accounts\//)
  const pending = await post('/bank-accounts', { ...us, description: 'other' }, { prefer: 'respond-async' })
  t.equal(pending.statusCode, 201, 'Circle linked it at once, so even respond-async gets the terminal answer')
})

t.test('Circle refusing the account fails it with Circle’s code', async (t) => {
  const { post } = await httpHarness(t, { circle: { createWireAccount: async () => { throw new CircleError('invalid', { transient: false, status: 400, code: 2 }) } } })
  const res = await post('/bank-accounts', us)
  t.equal(res.statusCode, 201, 'already terminal when answered')
  t.match(res.json(), { status: 'failed', failure: { code: 'circle_2' } })
})

t.test('Circle refusing our own key (401) is 503 and fails nothing: an operator problem, not the account', async (t) => {
  const { post, store } = await httpHarness(t, { circle: { createWireAccount: async () => { throw new CircleError('Invalid credentials.', { transient: false, operator: true, status: 401, code: 401 }) } } })
  const res = await post('/bank-accounts', us)
  t.equal(res.statusCode, 503)
  t.equal(res.json().error.code, 'circle_unavailable')
  t.match(res.json().error.message, /credentials/)
  const types = (await store.readAll()).events.map((e) => e.type)
  t.notOk(types.includes('BankAccountLinkFailed'), 'the account is not failed')
})

t.test('Circle down is 503; a retry with the same key binds the same Circle account', async (t) => {
  let down = true
  const circle = fakeWireAccounts()
  const { post, get } = await httpHarness(t, {
    circle: {
      async createWireAccount(request) {
        if (down) throw new CircleError('timeout', { transient: true, code: 'ECONNABORTED' })
        return circle.createWireAccount(request)
      },
    },
  })
  const first = await post('/bank-accounts', us, { 'idempotency-key': 'bank-key-1' })
  t.equal(first.statusCode, 503)
  t.equal(first.json().error.code, 'circle_unavailable')
  t.equal(first.headers['retry-after'], '5', 'says when to retry')
  down = false
  const retry = await post('/bank-accounts', us, { 'idempotency-key': 'bank-key-1' })
  t.equal(retry.statusCode, 202)
  t.ok(retry.json().circleWireId)
  t.equal((await get(`/bank-accounts/${retry.json().id}`)).json().circleWireId, retry.json().circleWireId)
  t.equal((await get('/bank-accounts/00000000-0000-4000-8000-000000000000')).statusCode, 404)
})
