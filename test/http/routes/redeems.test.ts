import t from 'tap'
import { execute } from '../../../src/commands/handler.ts'
import { recordBankAccountOutcome } from '../../../src/commands/record-bank-account-outcome.ts'
import { recordRedeemOutcome } from '../../../src/commands/record-redeem-outcome.ts'
import { meta } from '../../helpers/commands.ts'
import { httpHarness } from '../../helpers/http.ts'

const usBank = (ownerId: string) => ({
  ownerId,
  accountNumber: '12340010',
  routingNumber: '121000248',
  billingDetails: { name: 'Ada Lovelace', line1: '1 Main St', city: 'Boston', postalCode: '02201', country: 'US', district: 'MA' },
  bankAddress: { bankName: 'Wells Fargo', city: 'SF', country: 'US' },
})

async function setup(t: Parameters<typeof httpHarness>[0]) {
  const h = await httpHarness(t)
  const walletId = await h.activeWallet('owner-1', '100')
  const bank = (await h.post('/bank-accounts', usBank('owner-1'))).json()
  await execute(h.store, recordBankAccountOutcome, { bankAccountId: bank.id, outcome: { type: 'linked', circleWireId: bank.circleWireId } }, meta())
  await h.settle()
  return { ...h, walletId, bankAccountId: bank.id as string }
}

t.test('POST /redeem reserves the amount and answers 202 pending', async (t) => {
  const { post, get, walletId, bankAccountId } = await setup(t)
  const res = await post('/redeem', { walletId, bankAccountId, amount: '40' })
  t.equal(res.statusCode, 202)
  const redeem = res.json()
  t.match(redeem, { walletId, bankAccountId, amount: '40.00', currency: 'USD', status: 'pending' })
  t.equal(res.headers.location, `/redeems/${redeem.id}`)
  t.same((await get(`/redeems/${redeem.id}`)).json(), redeem)
  t.same((await get(`/wallets/${walletId}`)).json().balances, { available: '60.00', reserved: '40.00', total: '100.00', currency: 'USD' })
})

t.test('a failed redeem shows its failure and gives the funds back', async (t) => {
  const { post, get, store, walletId, bankAccountId, settle } = await setup(t)
  const redeem = (await post('/redeem', { walletId, bankAccountId, amount: '40' })).json()
  const failure = { code: 'transfer_failed', message: 'Circle refused' }
  await execute(store, recordRedeemOutcome, { redeemId: redeem.id, outcome: { type: 'transfer_failed', failure } }, meta())
  await settle()
  t.match((await get(`/redeems/${redeem.id}`)).json(), { status: 'failed', failure })
  t.equal((await get(`/wallets/${walletId}`)).json().balances.available, '100.00')
})

t.test('a redeem beyond the balance is 422 insufficient_funds with the amounts', async (t) => {
  const { post, walletId, bankAccountId } = await setup(t)
  const res = await post('/redeem', { walletId, bankAccountId, amount: '100.01' })
  t.equal(res.statusCode, 422)
  t.same(res.json().error.code, 'insufficient_funds')
  t.same(res.json().error.details, { available: '100.00', requested: '100.01' })
})

t.test('a redeem of a fraction of a cent is 400: a wire pays whole cents; nothing is reserved', async (t) => {
  const { post, get, store, walletId, bankAccountId } = await setup(t)
  const before = await store.head()
  const res = await post('/redeem', { walletId, bankAccountId, amount: '10.125' })
  t.equal(res.statusCode, 400)
  t.equal(res.json().error.code, 'validation_failed')
  t.same(res.json().error.details, [{ field: 'body.amount', message: 'a wire pays whole cents: amount must not have a fraction of a cent' }])
  t.equal((await post('/redeem', { walletId, bankAccountId, amount: '10.000001' })).statusCode, 400, 'a millionth past the cents')
  // A malformed or zero amount keeps its one message.
  for (const amount of ['1.1234567', '0.000', '0.000000']) t.equal((await post('/redeem', { walletId, bankAccountId, amount })).json().error.details.length, 1, amount)
  t.equal(await store.head(), before, 'nothing appended')
  t.equal((await get(`/wallets/${walletId}`)).json().balances.reserved, '0.00')
  t.equal((await post('/redeem', { walletId, bankAccountId, amount: '10.10' })).statusCode, 202, 'whole cents are fine')
})

t.test('zeros past the cents are whole cents: "10.500" is a redeem of 10.50', async (t) => {
  const { post, get, walletId, bankAccountId } = await setup(t)
  const res = await post('/redeem', { walletId, bankAccountId, amount: '10.500' })
  t.equal(res.statusCode, 202)
  t.equal(res.json().amount, '10.50')
  t.equal((await post('/redeem', { walletId, bankAccountId, amount: '1.000000' })).json().amount, '1.00')
  t.equal((await get(`/wallets/${walletId}`)).json().balances.reserved, '11.50')
})

t.test('an unlinked or unknown bank account is 422', async (t) => {
  const { post, walletId } = await setup(t)
  const pending = (await post('/bank-accounts', usBank('owner-1'))).json()
  const unlinked = await post('/redeem', { walletId, bankAccountId: pending.id, amount: '1' })
  t.equal(unlinked.statusCode, 422)
  t.equal(unlinked.json().error.code, 'bank_account_not_linked')
  const unknown = await post('/redeem', { walletId, bankAccountId: '00000000-0000-4000-8000-000000000000', amount: '1' })
  t.equal(unknown.json().error.code, 'bank_account_not_found')
})

t.test('GET /redeems of an unknown id is 404', async (t) => {
  const { get } = await httpHarness(t)
  t.equal((await get('/redeems/00000000-0000-4000-8000-000000000000')).statusCode, 404)
})
