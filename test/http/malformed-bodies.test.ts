import { randomUUID } from 'node:crypto'
import t from 'tap'
import { auth } from '../helpers/app.ts'
import { httpHarness } from '../helpers/http.ts'
import { randomInt } from '../helpers/seeded-random.ts'

/** Generates malformed bodies for each POST route: wrong types, missing fields, huge strings, bad amounts, chains, addresses, extra fields, invalid JSON. */
function malformed(walletId: string, otherWallet: string): { url: string; body: unknown; raw?: string }[] {
  const amounts = ['-1', '0', '1e3', '1.1234567', ' 1', '1 ', '', '0x10', 'NaN', 'Infinity', '1,5', '+1', '.5', '1.', '9'.repeat(50), 10, 10.5, -1, null, true, [], {}]
  const strings = [123, null, true, [], {}, '', 'x'.repeat(100_000)]
  const validTransfer = { sourceWalletId: walletId, destination: { type: 'wallet', walletId: otherWallet }, amount: '1' }
  const out: { url: string; body: unknown; raw?: string }[] = []
  for (const amount of amounts) {
    out.push({ url: '/mint', body: { walletId, amount } })
    out.push({ url: '/redeem', body: { walletId, bankAccountId: randomUUID(), amount } })
    out.push({ url: '/transfers', body: { ...validTransfer, amount } })
  }
  for (const s of strings) {
    out.push({ url: '/wallets', body: { ownerId: s } })
    out.push({ url: '/cards', body: { walletId, cardholderName: s } })
    out.push({ url: '/mint', body: { walletId: s, amount: '1' } })
    out.push({ url: '/wallets/address', body: { walletId, chain: s } })
    out.push({ url: '/bank-accounts', body: { ownerId: 'o', accountNumber: s, routingNumber: '121000248', billingDetails: {}, bankAddress: { country: 'US' } } })
  }
  for (const chain of ['DOGE', 'sol', 'ETH2', 'BTC', 'ethereum']) {
    out.push({ url: '/transfers', body: { ...validTransfer, destination: { type: 'blockchain', chain, address: '0x52908400098527886E0F7030069857D2E4169EE7' } } })
    out.push({ url: '/wallets/address', body: { walletId, chain } })
  }
  for (const [chain, address] of [['ETH', '0x123'], ['SOL', '0x52908400098527886E0F7030069857D2E4169EE7'], ['POLY', 'not-an-address'], ['BASE', ''], ['ARB', '0x' + 'g'.repeat(40)], ['AVAX', 'x'.repeat(1000)], ['SOL', '0OIl0OIl0OIl0OIl0OIl0OIl0OIl0OIl']]) {
    out.push({ url: '/transfers', body: { ...validTransfer, destination: { type: 'blockchain', chain, address } } })
  }
  const extras = [
    { url: '/wallets', body: { ownerId: 'o', balance: '1000' } },
    { url: '/mint', body: { walletId, amount: '1', status: 'completed' } },
    { url: '/redeem', body: { walletId, bankAccountId: randomUUID(), amount: '1', fee: '0' } },
    { url: '/transfers', body: { ...validTransfer, id: randomUUID() } },
    { url: '/cards', body: { walletId, cardholderName: 'x', pan: '4242424242424242' } },
    { url: '/wallets/address', body: { walletId, chain: 'SOL', address: 'x' } },
    { url: '/transfers', body: { ...validTransfer, destination: { type: 'wallet', walletId: otherWallet, chain: 'SOL' } } },
  ]
  out.push(...extras)
  for (const url of ['/wallets', '/mint', '/redeem', '/transfers', '/cards', '/wallets/address', '/bank-accounts']) {
    out.push({ url, body: {} }, { url, body: [] }, { url, body: 'text' }, { url, body: 42 }, { url, body: null })
    out.push({ url, body: undefined, raw: '{"walletId": ' }, { url, body: undefined, raw: '{{}' }, { url, body: undefined, raw: "{'a':1}" })
    out.push({ url, body: undefined, raw: JSON.stringify({ walletId, amount: '1', ownerId: 'o' }).replace('}', ',}') })
  }
  while (out.length < 200) {
    const url = ['/mint', '/redeem', '/transfers'][randomInt(3)]!
    out.push({ url, body: { walletId: randomInt(2) ? walletId : 'x', sourceWalletId: walletId, bankAccountId: randomUUID(), amount: `${randomInt(10)}.${'1'.repeat(randomInt(7, 12))}` } })
  }
  return out
}

t.test('200+ malformed bodies across the POST routes: all 4xx with the error body, no 5xx, no new event', async (t) => {
  const { app, store, activeWallet, client } = await httpHarness(t)
  const walletId = await activeWallet('a', '10')
  const otherWallet = await activeWallet('b')
  const head = await store.head()
  const cases = malformed(walletId, otherWallet)
  t.ok(cases.length >= 200, `${cases.length} malformed requests`)
  const statuses = new Map<number, number>()
  for (const c of cases) {
    const headers: Record<string, string> = { ...auth.backend, 'idempotency-key': randomUUID() }
    const res =
      c.raw !== undefined
        ? await app.inject({ method: 'POST', url: c.url, payload: c.raw, headers: { ...headers, 'content-type': 'application/json' } })
        : await client.call({ method: 'POST', url: c.url, payload: c.body as object, headers })
    statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1)
    const body = res.json()
    if (res.statusCode < 400 || res.statusCode >= 500 || typeof body?.error?.code !== 'string' || typeof body?.requestId !== 'string') {
      t.fail(`${c.url} ${JSON.stringify(c.body ?? c.raw).slice(0, 120)} -> ${res.statusCode} ${res.body.slice(0, 200)}`)
    }
  }
  t.comment(`statuses: ${JSON.stringify(Object.fromEntries(statuses))}`)
  t.ok([...statuses.keys()].every((s) => s >= 400 && s < 500), 'every answer is 4xx')
  t.equal(await store.head(), head, 'the event store holds no new event')
})
