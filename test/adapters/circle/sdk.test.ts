import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { createRequire } from 'node:module'
import { randomUUID } from 'node:crypto'
import t, { type Test } from 'tap'
import { CircleError } from '../../../src/adapters/circle/port.ts'
import { CircleSdkAdapter, classify, toPayout, toTransfer } from '../../../src/adapters/circle/sdk.ts'
import { createCircleSimulator } from '../../../src/adapters/circle/simulator/simulator.ts'
import { parseAmount } from '../../../src/events/money.ts'

async function setup(t: Test, adapter: Partial<ConstructorParameters<typeof CircleSdkAdapter>[0]> = {}) {
  const sim = await createCircleSimulator({ settleMs: 30, treasury: '1000' })
  const url = await sim.listen()
  t.teardown(() => sim.close())
  const circle = new CircleSdkAdapter({ apiKey: 'SIM_KEY', baseUrl: url, timeoutMs: 2000, backoff: { baseMs: 5, maxMs: 50 }, ratePerSecond: 1000, ...adapter })
  return { sim, circle }
}
const settled = () => new Promise((r) => setTimeout(r, 120))

t.test('the SDK pins axios 1.6.0; our override brings a current 1.x with the SSRF fixes', async (t) => {
  const require = createRequire(require_resolve())
  const { version } = require('axios/package.json') as { version: string }
  const [major, minor] = version.split('.').map(Number)
  t.equal(major, 1)
  t.ok(minor! >= 8, `axios ${version} >= 1.8.2`)
})
function require_resolve() {
  return createRequire(import.meta.url).resolve('@circle-fin/circle-sdk')
}

t.test('every port operation works against the simulator through the real SDK', async (t) => {
  const { circle, sim } = await setup(t)
  t.equal(await circle.masterWalletId(), sim.masterWalletId)
  t.equal(await circle.treasuryBalance(), parseAmount('1000'))
  const wallet = await circle.createWallet({ idempotencyKey: randomUUID(), description: 'user-1' })
  t.equal(wallet.balance, 0n)
  const address = await circle.createDepositAddress(wallet.walletId, { idempotencyKey: randomUUID(), chain: 'SOL' })
  t.equal(address.chain, 'SOL')
  const wire = await circle.createWireAccount({
    idempotencyKey: randomUUID(),
    details: { accountNumber: '12340010', routingNumber: '121000248', billingDetails: { name: 'Ada', line1: '1 Main', city: 'Boston', postalCode: '02201', country: 'US' }, bankAddress: { bankName: 'WF', country: 'US' } },
  })
  t.equal(wire.status, 'pending')
  const mint = await circle.createTransfer({ idempotencyKey: randomUUID(), sourceWalletId: sim.masterWalletId, destination: { type: 'wallet', id: wallet.walletId }, amount: parseAmount('100.25') })
  t.match(mint, { status: 'pending', amount: parseAmount('100.25'), sourceWalletId: sim.masterWalletId })
  await settled()
  t.equal((await circle.getTransfer(mint.id)).status, 'complete')
  t.equal((await circle.getWallet(wallet.walletId)).balance, parseAmount('100.25'))
  t.equal((await circle.getWireAccount(wire.id)).status, 'complete')
  const chain = await circle.createTransfer({ idempotencyKey: randomUUID(), sourceWalletId: wallet.walletId, destination: { type: 'blockchain', chain: 'ETH', address: '0x52908400098527886E0F7030069857D2E4169EE7' }, amount: parseAmount('0.25') })
  await settled()
  const done = await circle.getTransfer(chain.id)
  t.equal(done.status, 'complete')
  t.ok(done.txHash)
  const payout = await circle.createPayout({ idempotencyKey: randomUUID(), wireAccountId: wire.id, amount: parseAmount('10') })
  await settled()
  t.equal((await circle.getPayout(payout.id)).status, 'complete')
  t.equal(await circle.treasuryBalance(), parseAmount('889.75'))
})

t.test('a refusal is a permanent CircleError with Circle’s code and message, not retried', async (t) => {
  const { circle, sim } = await setup(t)
  const err = await circle.createTransfer({ idempotencyKey: randomUUID(), sourceWalletId: 'nope', destination: { type: 'wallet', id: sim.masterWalletId }, amount: 1n }).catch((e: unknown) => e)
  t.ok(err instanceof CircleError)
  t.match(err, { transient: false, status: 400, code: 1088, message: /Invalid source account/ })
  t.equal(sim.received.filter((r) => r.path === '/v1/transfers').length, 1, 'sent once')
  const missing = await circle.getTransfer(randomUUID()).catch((e: unknown) => e)
  t.match(missing, { transient: false, status: 404 })
})

t.test('a timeout is retried with the same key and yields exactly one resource', async (t) => {
  const { circle, sim } = await setup(t, { timeoutMs: 300 })
  sim.setFaults({ timeoutRate: 1, hangMs: 1000 })
  const key = randomUUID()
  setTimeout(() => sim.setFaults({}), 500)
  const wallet = await circle.createWallet({ idempotencyKey: key })
  t.ok(wallet.walletId)
  const creations = (await sim.creations()).filter((c) => c.idempotencyKey === key)
  t.equal(creations.length, 1, 'one wallet')
  t.ok(creations[0]!.requests >= 2, `the key was sent ${creations[0]!.requests} times`)
})

t.test('429s and 500s back off and retry with the same key; exhausted retries stay transient', async (t) => {
  const { circle, sim } = await setup(t, { maxAttempts: 4 })
  sim.setFaults({ rate429: 1 })
  const started = Date.now()
  const err = await circle.createWallet({ idempotencyKey: randomUUID() }).catch((e: unknown) => e)
  t.match(err, { transient: true, status: 429 })
  t.equal(sim.received.length, 0, '429s are answered before the resource is touched')
  t.ok(Date.now() - started >= 0)
  sim.setFaults({ errorRate: 1 })
  const key = randomUUID()
  setTimeout(() => sim.setFaults({}), 60)
  const wallet = await circle.createWallet({ idempotencyKey: key }).catch((e: unknown) => e)
  if (wallet instanceof CircleError) t.equal(wallet.transient, true)
  else t.equal((await sim.creations()).filter((c) => c.idempotencyKey === key).length, 1, 'one wallet despite failures after processing')
})

t.test('a run of 429s is waited out with backoff, then the call succeeds with one resource', async (t) => {
  const { circle, sim } = await setup(t, { backoff: { baseMs: 20, maxMs: 100 }, maxAttempts: 10 })
  sim.setFaults({ rate429: 1 })
  setTimeout(() => sim.setFaults({}), 150)
  const key = randomUUID()
  const started = Date.now()
  const wallet = await circle.createWallet({ idempotencyKey: key })
  t.ok(wallet.walletId)
  t.ok(Date.now() - started >= 100, 'it backed off while Circle answered 429')
  t.equal((await sim.creations()).filter((c) => c.idempotencyKey === key).length, 1)
})

t.test('errors are classified: network, timeout, 429, 5xx and code -1 are transient', async (t) => {
  t.equal(classify('x', { code: 'ECONNREFUSED', message: 'refused' }).transient, true)
  t.equal(classify('x', { code: 'ECONNABORTED', message: 'timeout' }).transient, true)
  t.equal(classify('x', { response: { status: 429, data: { code: 429, message: 'Too many requests.' } } }).transient, true)
  t.equal(classify('x', { response: { status: 503, data: {} } }).transient, true)
  t.equal(classify('x', { response: { status: 400, data: { code: -1, message: 'Something went wrong.' } } }).transient, true)
  t.match(classify('x', { response: { status: 400, data: { code: 2, message: 'Invalid entity.' } } }), { transient: false, code: 2 })
  t.match(classify('x', { response: { status: 409, data: { code: 1083, message: 'bound' } } }), { transient: false, code: 1083 })
})

t.test('a Circle error keeps nothing of the request: no account number reaches a log line', async (t) => {
  const { circle, sim } = await setup(t, { maxAttempts: 1 })
  sim.setFaults({ errorRate: 1 })
  const err = await circle
    .createWireAccount({
      idempotencyKey: randomUUID(),
      details: { accountNumber: '987654321012', routingNumber: '121000248', billingDetails: { name: 'A', line1: 'l', city: 'c', postalCode: '1', country: 'US' }, bankAddress: { country: 'US' } },
    })
    .catch((e: unknown) => e)
  t.ok(err instanceof CircleError)
  const logged: string[] = []
  const logger = (await import('pino')).default({ level: 'info' }, { write: (line: string) => void logged.push(line) })
  logger.error({ err }, 'circle failed')
  t.notMatch(logged.join(''), /987654321012/, 'the serialized error does not contain the account number')
  t.equal((err as Error).cause, undefined)
})

t.test('the client-side rate limiter spaces calls', async (t) => {
  const { circle } = await setup(t, { ratePerSecond: 20 })
  const started = Date.now()
  await Promise.all(Array.from({ length: 30 }, () => circle.treasuryBalance()))
  t.ok(Date.now() - started >= 400, `30 calls at 20/s with a burst of 20 take at least 0.5 s (${Date.now() - started} ms)`)
})

t.test('Circle errors are classified by what they mean: 401/403 our key, 408 transient, other 4xx a refusal', async (t) => {
  const answer = (status: number, code: number) => ({ response: { status, data: { code, message: `status ${status}` } } })
  const cases: [number, number, { transient: boolean; operator: boolean; refusal: boolean }][] = [
    [401, 401, { transient: false, operator: true, refusal: false }],
    [403, 3, { transient: false, operator: true, refusal: false }],
    [408, 408, { transient: true, operator: false, refusal: false }],
    [429, 429, { transient: true, operator: false, refusal: false }],
    [500, -1, { transient: true, operator: false, refusal: false }],
    [503, 503, { transient: true, operator: false, refusal: false }],
    [400, 2, { transient: false, operator: false, refusal: true }],
    [400, 1093, { transient: false, operator: false, refusal: true }],
    [404, 404, { transient: false, operator: false, refusal: true }],
    [409, 1083, { transient: false, operator: false, refusal: true }],
  ]
  for (const [status, code, expected] of cases) {
    const e = classify('op', answer(status, code))
    t.same({ transient: e.transient, operator: e.operator, refusal: e.refusal }, expected, `${status} / code ${code}`)
  }
  const timeout = classify('op', { code: 'ECONNABORTED', message: 'timeout of 10ms exceeded' })
  t.ok(timeout.transient && !timeout.refusal, 'a timeout without an answer is transient')
})

t.test('a redirect is not followed: it is an answer Circle does not give, and our key is not sent on to its target', async (t) => {
  const asked: string[] = []
  const server = createServer((req, res) => {
    asked.push(req.url ?? '')
    if (req.url?.startsWith('/moved')) res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ data: { walletId: 'w', entityId: 'e', type: 'merchant', balances: [] } }))
    else res.writeHead(302, { location: '/moved' }).end()
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())))
  const { port } = server.address() as AddressInfo
  const circle = new CircleSdkAdapter({ apiKey: 'SIM_KEY', baseUrl: `http://127.0.0.1:${port}`, timeoutMs: 2000, maxAttempts: 1, ratePerSecond: 1000 })
  const err = await circle.getWallet('w').catch((e: unknown) => e)
  t.ok(err instanceof CircleError, 'a CircleError')
  t.same(asked, ['/v1/wallets/w'], 'the redirect target was never asked')
})

t.test('a revoked key fails fast as an operator problem, shows in accessProblem, and clears when the key works again', async (t) => {
  const { circle, sim } = await setup(t)
  t.equal(await circle.accessProblem(0), undefined, 'the key works')
  sim.setFaults({ revokedKeys: ['SIM_KEY'] })
  const before = sim.received.length
  const err = await circle.createWallet({ idempotencyKey: randomUUID() }).catch((e: unknown) => e)
  t.ok(err instanceof CircleError && err.operator && !err.refusal, 'an operator error, not a refusal')
  t.equal(sim.received.length, before, 'not retried in a loop: 401 answers before the request is processed')
  t.match(await circle.accessProblem(), /refused our API key \(HTTP 401\)/, 'the adapter remembers the refusal')
  sim.setFaults({ forbiddenKeys: ['SIM_KEY'] })
  t.match(await circle.accessProblem(0), /HTTP 403/, 'a probe sees a 403 too')
  sim.setFaults({})
  t.equal(await circle.accessProblem(0), undefined, 'a working key clears it')
})

t.test('listAllTransfers and listPayouts follow Circle’s pages to the end, within the date range', async (t) => {
  const { sim, circle } = await setup(t)
  const master = await circle.masterWalletId()
  const wallet = await circle.createWallet({ idempotencyKey: randomUUID() })
  const other = await circle.createWallet({ idempotencyKey: randomUUID() })
  for (let i = 0; i < 60; i++) await circle.createTransfer({ idempotencyKey: randomUUID(), sourceWalletId: master, destination: { type: 'wallet', id: wallet.walletId }, amount: parseAmount('1') })
  await circle.createTransfer({ idempotencyKey: randomUUID(), sourceWalletId: master, destination: { type: 'wallet', id: other.walletId }, amount: parseAmount('1') })
  const pages: number[] = []
  const all = await circle.listAllTransfers({ walletId: wallet.walletId }, { onPage: (read) => pages.push(read) })
  t.equal(all.length, 60, 'more than one page of 50')
  t.same(pages, [50, 60], 'each page is reported with the transfers listed so far')
  t.equal(new Set(all.map((x) => x.id)).size, 60, 'each once')
  t.ok(all.every((x) => x.createDate && x.destination.type === 'wallet' && x.destination.id === wallet.walletId))
  t.same(await circle.listAllTransfers({ walletId: wallet.walletId, to: '2000-01-01T00:00:00Z' }), [], 'nothing created before the range')
  t.equal((await circle.listAllTransfers({ walletId: master })).length, 61, 'the source side lists them too')
  const account = await circle.listAllTransfers({})
  t.equal(account.length, 61, 'without a wallet: every wallet of the account')
  t.ok(account.some((x) => x.destination.type === 'wallet' && x.destination.id === other.walletId))
  const read: number[] = []
  const kept = await circle.listAllTransfers({}, { keep: (x) => x.destination.type === 'wallet' && x.destination.id === other.walletId, onPage: (n) => read.push(n) })
  t.equal(kept.length, 1, 'keep chooses what is returned, page by page')
  t.same(read, [50, 61], 'onPage counts every transfer read, kept or not')

  const wire = await circle.createWireAccount({
    idempotencyKey: randomUUID(),
    details: { accountNumber: '12340010', routingNumber: '121000248', billingDetails: { name: 'H', line1: 'l', city: 'c', postalCode: '1', country: 'US' }, bankAddress: { country: 'US' } },
  })
  await settled()
  const payout = await circle.createPayout({ idempotencyKey: randomUUID(), wireAccountId: wire.id, amount: parseAmount('2') })
  const payouts = await circle.listPayouts({ from: new Date(Date.now() - 60_000).toISOString() })
  t.same(payouts.map((p) => [p.id, p.amount]), [[payout.id, parseAmount('2')]])
  t.ok(sim.received.some((r) => r.path === '/v1/businessAccount/payouts' && r.method === 'GET'))
})

t.test('a listed transfer or payout in another currency keeps Circle’s amount as text and gives no USDC amount', async (t) => {
  const base = { id: 'tr-1', status: 'complete' as const, source: { type: 'blockchain', chain: 'ETH' }, destination: { type: 'wallet', id: 'cw-1' } }
  const usdc = toTransfer({ ...base, amount: { amount: '12.34', currency: 'USD' } })
  t.match(usdc, { currency: 'USD', amount: 12_340_000n, amountText: '12.34' })
  // EURC, and a currency with more decimals than USDC's six, which would not parse as micro-units.
  t.match(toTransfer({ ...base, amount: { amount: '40.00', currency: 'EUR' } }), { currency: 'EUR', amount: undefined, amountText: '40.00' })
  t.match(toTransfer({ ...base, amount: { amount: '0.000000000000000001', currency: 'ETH' } }), { currency: 'ETH', amount: undefined, amountText: '0.000000000000000001' })
  // A payout of the business account's in EUR, listed by reconciliation: shown as Circle wrote it.
  t.match(toPayout({ id: 'po-1', status: 'complete', amount: { amount: '12.34', currency: 'USD' } }), { currency: 'USD', amount: 12_340_000n, amountText: '12.34' })
  t.match(toPayout({ id: 'po-2', status: 'complete', amount: { amount: '99.00', currency: 'EUR' } }), { currency: 'EUR', amount: undefined, amountText: '99.00' })
})

t.test('a USD amount USDC cannot carry gives no amount instead of failing the page it is on', async (t) => {
  const base = { id: 'tr-1', status: 'complete' as const, source: { type: 'blockchain', chain: 'ETH' }, destination: { type: 'wallet', id: 'cw-1' } }
  for (const amount of ['1.0000001', '-5.00', '1e3', ' 1', '']) {
    t.match(toTransfer({ ...base, amount: { amount, currency: 'USD' } }), { currency: 'USD', amount: undefined, amountText: amount }, JSON.stringify(amount))
    t.match(toPayout({ id: 'po-1', status: 'complete', amount: { amount, currency: 'USD' } }), { currency: 'USD', amount: undefined, amountText: amount })
  }
  t.match(toTransfer({ ...base, amount: { amount: '0.00', currency: 'USD' } }), { amount: 0n }, 'zero is still read')
})
