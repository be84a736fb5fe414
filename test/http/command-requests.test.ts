import t from 'tap'
import { execute } from '../../src/commands/handler.ts'
import { recordMintOutcome } from '../../src/commands/record-mint-outcome.ts'
import { recordAddressOutcome } from '../../src/commands/record-address-outcome.ts'
import { recordWalletOutcome } from '../../src/commands/record-wallet-outcome.ts'
import { parsePrefer } from '../../src/http/command-requests.ts'
import { meta } from '../helpers/commands.ts'
import { httpHarness } from '../helpers/http.ts'

t.test('Prefer is parsed as RFC 7240 says: lists, case, quotes, parameters; unknown or malformed preferences are ignored', async (t) => {
  t.same(parsePrefer(undefined), { respondAsync: false })
  t.same(parsePrefer('wait=10'), { respondAsync: false, wait: 10 })
  t.same(parsePrefer('respond-async, wait=60'), { respondAsync: true, wait: 30 }, 'wait above the maximum is clamped, not refused')
  t.same(parsePrefer('Respond-Async'), { respondAsync: true })
  t.same(parsePrefer('wait="5"'), { respondAsync: false, wait: 5 })
  t.same(parsePrefer(['handling=lenient', 'wait=3;foo=bar']), { respondAsync: false, wait: 3 })
  t.same(parsePrefer('wait=abc, return=minimal, wait=-1'), { respondAsync: false })
  t.same(parsePrefer('wait=4, wait=9'), { respondAsync: false, wait: 4 }, 'the first of a repeated preference counts')
})

t.test('unsupported and out-of-range preferences are accepted: 202 at once, Preference-Applied names what was honoured', async (t) => {
  const { post, activeWallet } = await httpHarness(t)
  const walletId = await activeWallet()
  const async = await post('/mint', { walletId, amount: '1' }, { prefer: 'respond-async' })
  t.equal(async.statusCode, 202)
  t.equal(async.headers['preference-applied'], 'respond-async')
  const unknown = await post('/mint', { walletId, amount: '1' }, { prefer: 'handling=strict, return=minimal' })
  t.equal(unknown.statusCode, 202)
  t.equal(unknown.headers['preference-applied'], undefined, 'nothing honoured, nothing claimed')
  const none = await post('/mint', { walletId, amount: '1' })
  t.equal(none.headers['preference-applied'], undefined)
})

t.test('wait=60 is clamped to 30 and honoured; an operation terminal by then answers 200', async (t) => {
  const { post, store, activeWallet } = await httpHarness(t)
  const walletId = await activeWallet()
  const finisher = setInterval(async () => {
    for (const e of (await store.readAll({ filter: { types: ['MintRequested'] } })).events) {
      await execute(store, recordMintOutcome, { mintId: e.data.mintId as string, outcome: { type: 'completed', circleTransferId: 'ct-60' } }, meta()).catch(() => undefined)
    }
  }, 100)
  t.teardown(() => clearInterval(finisher))
  const res = await post('/mint', { walletId, amount: '2' }, { prefer: 'respond-async, wait=60' })
  t.equal(res.statusCode, 200)
  t.equal(res.json().status, 'completed')
  t.equal(res.headers['preference-applied'], 'wait=30')
})

t.test('a new resource terminal when answered is 201; still pending after the wait it is 202', async (t) => {
  const { post, store } = await httpHarness(t)
  const activator = setInterval(async () => {
    for (const e of (await store.readAll({ filter: { types: ['WalletCreationRequested'] } })).events) {
      if (e.data.ownerId !== 'fast') continue
      await execute(store, recordWalletOutcome, { walletId: e.data.walletId as string, outcome: { type: 'created', circleWalletId: 'cw-fast' } }, meta()).catch(() => undefined)
    }
  }, 100)
  t.teardown(() => clearInterval(activator))
  const fast = await post('/wallets', { ownerId: 'fast' }, { prefer: 'wait=5' })
  t.equal(fast.statusCode, 201)
  t.equal(fast.json().status, 'active')
  t.equal(fast.headers['preference-applied'], 'wait=5')
  const slow = await post('/wallets', { ownerId: 'slow' }, { prefer: 'wait=1' })
  t.equal(slow.statusCode, 202)
  t.equal(slow.json().status, 'pending')
  t.equal(slow.headers['preference-applied'], 'wait=1')
})

t.test('Prefer: wait on a deposit address answers 201 once the address is generated', async (t) => {
  const { post, store, activeWallet } = await httpHarness(t)
  const walletId = await activeWallet()
  const generator = setInterval(async () => {
    for (const e of (await store.readAll({ filter: { types: ['DepositAddressRequested'] } })).events) {
      const outcome = { type: 'created' as const, address: '4Nd1mBQtrMJVYVfKf2PJy9NZUZdTAsp7D4xWLs4gDB4T' }
      await execute(store, recordAddressOutcome, { walletId, addressId: e.data.addressId as string, outcome }, meta()).catch(() => undefined)
    }
  }, 100)
  t.teardown(() => clearInterval(generator))
  const res = await post('/wallets/address', { walletId, chain: 'SOL' }, { prefer: 'wait=5' })
  t.equal(res.statusCode, 201)
  t.match(res.json(), { status: 'active', address: '4Nd1mBQtrMJVYVfKf2PJy9NZUZdTAsp7D4xWLs4gDB4T' })
  t.equal(res.headers['preference-applied'], 'wait=5')
})

t.test('every creating route documents Prefer and its 200/201 answer', async (t) => {
  const { app } = await httpHarness(t)
  const doc = (await app.inject({ method: 'GET', url: '/openapi.json' })).json()
  for (const [path, terminal] of [['/wallets', '201'], ['/wallets/address', '201'], ['/bank-accounts', '201'], ['/cards', '201'], ['/mint', '200'], ['/redeem', '200'], ['/transfers', '200']] as const) {
    const op = doc.paths[path].post
    t.ok(op.parameters.some((p: { name: string; in: string }) => p.name === 'prefer' && p.in === 'header'), `${path} documents Prefer`)
    t.ok(op.responses['202'], `${path} documents 202`)
    t.ok(op.responses[terminal], `${path} documents ${terminal}`)
  }
})
