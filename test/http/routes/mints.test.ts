import t from 'tap'
import { execute } from '../../../src/commands/handler.ts'
import { recordMintOutcome } from '../../../src/commands/record-mint-outcome.ts'
import { parseAmount } from '../../../src/events/money.ts'
import { auth } from '../../helpers/app.ts'
import { meta } from '../../helpers/commands.ts'
import { httpHarness } from '../../helpers/http.ts'

t.test('POST /mint answers 202 pending; GET reads it; completion shows in the wallet', async (t) => {
  const { post, get, store, activeWallet, settle } = await httpHarness(t)
  const walletId = await activeWallet()
  const res = await post('/mint', { walletId, amount: '10.50', currency: 'USD' })
  t.equal(res.statusCode, 202)
  const mint = res.json()
  t.match(mint, { walletId, amount: '10.50', currency: 'USD', status: 'pending' })
  t.equal(res.headers.location, `/mints/${mint.id}`)
  t.same((await get(`/mints/${mint.id}`)).json(), mint)
  await execute(store, recordMintOutcome, { mintId: mint.id, outcome: { type: 'completed', circleTransferId: 'ct-1' } }, meta())
  await settle()
  t.match((await get(`/mints/${mint.id}`)).json(), { status: 'completed', circleTransferId: 'ct-1' })
  t.equal((await get(`/wallets/${walletId}`)).json().balances.available, '10.50')
})

t.test('Prefer: wait=N holds the answer until the mint is terminal', async (t) => {
  const { post, store, activeWallet } = await httpHarness(t)
  const walletId = await activeWallet()
  // Stand in for the process manager finishing the mint while the POST waits.
  const finisher = setInterval(async () => {
    const mints = await store.readAll({ filter: { types: ['MintRequested'] } })
    for (const e of mints.events) {
      await execute(store, recordMintOutcome, { mintId: e.data.mintId as string, outcome: { type: 'completed', circleTransferId: 'ct-w' } }, meta()).catch(() => undefined)
    }
  }, 100)
  t.teardown(() => clearInterval(finisher))
  const res = await post('/mint', { walletId, amount: '1' }, { prefer: 'wait=5' })
  t.equal(res.statusCode, 200, 'terminal when answered: 200, not 202')
  t.equal(res.json().status, 'completed')
  t.equal(res.headers['preference-applied'], 'wait=5')
  t.match(res.headers.location, /^\/mints\//)
})

t.test('business rules: unknown and inactive wallets are 422', async (t) => {
  const { post } = await httpHarness(t)
  const unknown = await post('/mint', { walletId: '00000000-0000-4000-8000-000000000000', amount: '1.00' })
  t.equal(unknown.statusCode, 422)
  t.equal(unknown.json().error.code, 'wallet_not_found')
  const pending = (await post('/wallets', { ownerId: 'o' })).json()
  const inactive = await post('/mint', { walletId: pending.id, amount: '1.00' })
  t.equal(inactive.statusCode, 422)
  t.equal(inactive.json().error.code, 'wallet_not_active')
})

t.test('malformed amounts and amounts above the maximum are 400 and change nothing', async (t) => {
  const { post, store, activeWallet } = await httpHarness(t, { maxAmount: parseAmount('1000') })
  const walletId = await activeWallet()
  const before = await store.head()
  for (const amount of ['1e3', '-1', '0', '0.00', '1.1234567', ' 1', 10.5, 10, '1000.000001', null, '']) {
    const res = await post('/mint', { walletId, amount })
    t.equal(res.statusCode, 400, `amount ${JSON.stringify(amount)} is refused`)
    t.equal(res.json().error.code, 'validation_failed')
  }
  t.equal(await store.head(), before, 'no event was written')
  t.equal((await post('/mint', { walletId, amount: '1000' })).statusCode, 202, 'the maximum itself is allowed')
  t.equal((await post('/mint', { walletId, amount: '1', currency: 'EUR' })).statusCode, 400, 'only USD')
})

t.test('GET /mints: 404 for an unknown id; auditors may read', async (t) => {
  const { get, client } = await httpHarness(t)
  t.equal((await get('/mints/00000000-0000-4000-8000-000000000000')).statusCode, 404)
  t.equal((await client.call({ method: 'GET', url: '/mints/00000000-0000-4000-8000-000000000000', headers: auth.auditor })).statusCode, 404)
})

t.test('GET /mints: a year 0000 instant and a forged cursor are 400, not a failed query', async (t) => {
  const { get } = await httpHarness(t)
  const year0 = await get('/mints?createdAfter=0000-01-01T00:00:00Z')
  t.equal(year0.statusCode, 400)
  t.same(year0.json().error.details.map((d: { field: string }) => d.field), ['query.createdAfter'])
  t.equal((await get('/mints?createdBefore=0001-01-01T00:00:00Z')).statusCode, 200, 'year 0001 is a year')
  const forge = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url')
  for (const cursor of [forge(['2026-02-30T00:00:00.000Z', 'x']), forge(['2026-11-26T10:00:00.000Z', 'a\u0000b'])]) {
    const res = await get(`/mints?cursor=${cursor}`)
    t.equal(res.statusCode, 400)
    t.equal(res.json().error.code, 'invalid_cursor')
  }
})

t.test('the list filter status takes the statuses the list\'s resources can have: another is 400, not an empty page', async (t) => {
  const { post, get, store, activeWallet, settle } = await httpHarness(t)
  const walletId = await activeWallet()
  const done = (await post('/mint', { walletId, amount: '1.00' })).json().id as string
  const waiting = (await post('/mint', { walletId, amount: '2.00' })).json().id as string
  await execute(store, recordMintOutcome, { mintId: done, outcome: { type: 'completed', circleTransferId: 'ct-9' } }, meta())
  await settle()
  t.same((await get('/mints?status=completed')).json().items.map((m: { id: string }) => m.id), [done])
  t.same((await get('/mints?status=pending')).json().items.map((m: { id: string }) => m.id), [waiting])
  const unknown = await get('/mints?status=zzz')
  t.equal(unknown.statusCode, 400)
  t.same(unknown.json().error.details, [{ field: 'query.status', message: 'status must be one of "pending", "processing", "completed", "failed"' }])
  for (const [path, status] of [['/transfers', 'active'], ['/redeems', 'COMPLETED'], ['/cards', 'processing'], ['/deposits', 'pending']]) {
    const res = await get(`${path}?status=${status}`)
    t.equal(res.statusCode, 400, `${path}?status=${status}`)
  }
  t.equal((await get('/cards?status=frozen')).statusCode, 200, 'a card status on the cards list')
  t.equal((await get('/deposits?status=completed')).statusCode, 200, 'and the one status of a deposit')
})

t.test('a period whose createdBefore is not after createdAfter is 400 on every list, not an empty page', async (t) => {
  const { get } = await httpHarness(t)
  for (const path of ['/mints', '/redeems', '/transfers', '/deposits', '/cards', '/wallets', '/bank-accounts']) {
    const res = await get(`${path}?createdAfter=2026-11-02T00:00:00Z&createdBefore=2026-11-01T00:00:00Z`)
    if (path === '/wallets' || path === '/bank-accounts') {
      // Lists without the period filters refuse them as unknown parameters.
      t.equal(res.statusCode, 400, path)
      continue
    }
    t.equal(res.statusCode, 400, path)
    t.same(res.json().error.details, [{ field: 'query.createdBefore', message: 'createdBefore must be later than createdAfter: no resource can be in that period' }], path)
  }
  t.equal((await get('/mints?createdAfter=2026-11-01T00:00:00Z&createdBefore=2026-11-02T00:00:00Z')).statusCode, 200, 'an ordered period')
  t.equal((await get('/mints?createdAfter=2026-11-01T00:00:00Z&createdBefore=2026-11-01T00:00:00.000+00:00')).statusCode, 400, 'an empty one')
})
