import t from 'tap'
import { auth } from '../helpers/app.ts'
import { apiBankAccount, apiMint, apiWallet, isSettled, waitFor, webhookFlow } from '../helpers/webhook-flow.ts'

const GOOD = (i: number) => `0x${i.toString(16).padStart(40, 'a')}`
const BAD = `0x${'b'.repeat(40)}`
const TERMINAL = new Set(['MintCompleted', 'MintFailed', 'TransferCompleted', 'TransferFailed', 'RedeemCompleted', 'RedeemFailed'])

const cents = (amount: string) => Math.round(Number(amount) * 100)

/**
 * Every webhook delivered twice (same notification id), in random order (up to 80 ms apart), Circle
 * settling at once so completions often arrive before our own *Submitted is recorded, and polling
 * disabled: 100 mixed operations must all end right, with one terminal event each.
 */
t.test('chaos: duplicated, reordered, early webhooks and no polling; 100 mixed operations end right, once each', async (t) => {
  const h = await webhookFlow(t, { simulator: { settleMs: 0 } })
  const faults = { failAddresses: [BAD], failPayoutAmounts: ['5.55'], webhooks: { dropRate: 0, duplicateRate: 1, reorderMs: 80 } }
  t.equal((await fetch(`${h.url}/sim/faults`, { method: 'PUT', headers: { 'content-type': 'application/json', ...h.sim.controlHeaders }, body: JSON.stringify(faults) })).status, 200)

  const wallets = await Promise.all(Array.from({ length: 8 }, (_, i) => apiWallet(h, `owner-${i}`)))
  const bankAccounts = await Promise.all(wallets.map((_, i) => apiBankAccount(h, `owner-${i}`)))
  const balance = new Map(wallets.map((w) => [w.id, 0]))
  const expected = new Map<string, { url: string; status: string }>()

  const mints = await Promise.all(
    Array.from({ length: 30 }, async (_, i) => {
      const walletId = wallets[i % 8]!.id
      const id = await apiMint(h, walletId, '100.00')
      balance.set(walletId, balance.get(walletId)! + 10_000)
      return id
    }),
  )
  for (const id of mints) expected.set(`mint-${id}`, { url: `/mints/${id}`, status: 'completed' })
  await Promise.all(mints.map((id) => waitFor(h, `/mints/${id}`, isSettled, 90_000)))

  const work: Promise<void>[] = []
  for (let i = 0; i < 25; i++) {
    const from = wallets[i % 8]!
    const to = wallets[(i + 3) % 8]!
    const kind = i < 10 ? 'wallet' : i < 20 ? 'chain' : 'bad-chain'
    const destination = kind === 'wallet' ? { type: 'wallet', walletId: to.id } : { type: 'blockchain', chain: 'ETH', address: kind === 'chain' ? GOOD(i) : BAD }
    work.push(
      (async () => {
        const res = await h.post('/transfers', { sourceWalletId: from.id, destination, amount: '5.00' })
        t.equal(res.statusCode, 202, res.body)
        const id = res.json().id as string
        expected.set(`transfer-${id}`, { url: `/transfers/${id}`, status: kind === 'bad-chain' ? 'failed' : 'completed' })
        if (kind !== 'bad-chain') balance.set(from.id, balance.get(from.id)! - 500)
        if (kind === 'wallet') balance.set(to.id, balance.get(to.id)! + 500)
      })(),
    )
  }
  for (let i = 0; i < 25; i++) {
    const w = i % 8
    const amount = i < 20 ? '5.00' : '5.55'
    work.push(
      (async () => {
        const res = await h.post('/redeem', { walletId: wallets[w]!.id, bankAccountId: bankAccounts[w]!, amount })
        t.equal(res.statusCode, 202, res.body)
        const id = res.json().id as string
        expected.set(`redeem-${id}`, { url: `/redeems/${id}`, status: amount === '5.55' ? 'failed' : 'completed' })
        if (amount !== '5.55') balance.set(wallets[w]!.id, balance.get(wallets[w]!.id)! - cents(amount))
      })(),
    )
  }
  const cards: { id: string; freeze: boolean }[] = []
  for (let i = 0; i < 20; i++) {
    work.push(
      (async () => {
        const res = await h.post('/cards', { walletId: wallets[i % 8]!.id, cardholderName: `Holder ${i}` })
        t.equal(res.statusCode, 202, res.body)
        cards.push({ id: res.json().id as string, freeze: i % 2 === 0 })
      })(),
    )
  }
  await Promise.all(work)
  t.equal(expected.size + cards.length, 100, '100 operations')

  for (const card of cards) {
    await waitFor(h, `/cards/${card.id}`, (b) => b.status === 'active', 90_000)
    if (card.freeze) t.equal((await h.app.inject({ method: 'POST', url: `/cards/${card.id}/freeze`, headers: auth.backend })).statusCode, 200)
  }
  for (const [stream, want] of expected) {
    const body = await waitFor(h, want.url, isSettled, 90_000)
    t.equal(body.status, want.status, `${stream} ends ${want.status}`)
    const terminal = (await h.events(stream)).filter((e) => TERMINAL.has(e.type))
    t.equal(terminal.length, 1, `${stream} holds exactly one terminal event`)
  }
  for (const card of cards) {
    const body = await waitFor(h, `/cards/${card.id}`, (b) => b.status === (card.freeze ? 'frozen' : 'active'), 30_000)
    t.equal(body.status, card.freeze ? 'frozen' : 'active')
    const events = await h.events(`card-${card.id}`)
    t.equal(events.filter((e) => e.type === 'CardIssued' || e.type === 'CardIssueFailed').length, 1, `card-${card.id} issued exactly once`)
    const issuerCardId = events.find((e) => e.type === 'CardIssued')!.data.issuerCardId as string
    await waitFor(h, `/cards/${card.id}`, async () => (await h.sim.card(issuerCardId))?.status === (card.freeze ? 'frozen' : 'active'), 30_000)
  }
  for (const w of wallets) {
    const want = (balance.get(w.id)! / 100).toFixed(2)
    const body = await waitFor(h, `/wallets/${w.id}`, (b) => (b.balances as { reserved: string }).reserved === '0.00', 30_000)
    t.equal((body.balances as { available: string }).available, want, `wallet ${w.id} balance`)
  }

  // The conditions the test is about really happened.
  const metrics = (await h.app.inject({ method: 'GET', url: '/metrics', headers: auth.auditor })).body
  const count = (stage: string) => Number(new RegExp(`webhooks_total\\{stage="${stage}"\\} (\\d+)`).exec(metrics)?.[1] ?? 0)
  t.ok(count('duplicate') > 100, `duplicates answered without processing (${count('duplicate')})`)
  t.ok(count('retried') > 0, `webhooks arrived before our own record and were retried (${count('retried')})`)
  const byWebhook = (await h.db.selectFrom('webhook_inbox').select('status').execute()).filter((r) => r.status !== 'processed')
  t.same(byWebhook, [], 'every notification processed, none dead')
  let fromWebhooks = 0
  for (const stream of expected.keys()) fromWebhooks += (await h.events(stream)).filter((e) => TERMINAL.has(e.type) && e.metadata.actor === 'circle-webhook').length
  t.ok(fromWebhooks > 0, `terminal events recorded from webhooks: ${fromWebhooks} of ${expected.size}`)
  t.same((await h.get('/admin/dead-letters', auth.admin)).json().items, [], 'no dead letters')
})
