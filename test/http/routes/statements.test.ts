import { randomUUID } from 'node:crypto'
import t from 'tap'
import { execute } from '../../../src/commands/handler.ts'
import { recordMintOutcome } from '../../../src/commands/record-mint-outcome.ts'
import { recordTransferOutcome } from '../../../src/commands/record-transfer-outcome.ts'
import { requestMint } from '../../../src/commands/request-mint.ts'
import { requestTransfer } from '../../../src/commands/request-transfer.ts'
import type { RecordedEvent } from '../../../src/events/event-store.ts'
import { formatAmount, decodeMicros } from '../../../src/events/money.ts'
import { auth } from '../../helpers/app.ts'
import { meta } from '../../helpers/commands.ts'
import { httpHarness } from '../../helpers/http.ts'
import { runLedger } from '../../helpers/ledger.ts'
import { randomInt } from '../../helpers/seeded-random.ts'

const CHAIN = { type: 'blockchain' as const, chain: 'SOL', address: '4Nd1mBQtrMJVYVfKf2PJy9NZUZdTAsp7D4xWLs4gDB4T' }

/**
 * The wallet's balances at each position, recomputed from its own wallet events (not from the
 * journal). One command's events are one atomic commit: every position inside it names the state
 * after the whole commit (nothing could ever read the state half-way through it).
 */
function replayWallet(events: RecordedEvent[], walletId: string) {
  let available = 0n
  let held = 0n
  let bookedAt = 0
  const out: { position: string; bookedAt: number; available: bigint; held: bigint }[] = []
  for (let i = 0; i < events.length; ) {
    let j = i
    while (j < events.length && events[j]!.metadata.causationId === events[i]!.metadata.causationId) j++
    const commit = events.slice(i, j)
    for (const e of commit) {
      if (e.stream !== `wallet-${walletId}`) continue
      const amount = typeof e.data.amount === 'string' ? decodeMicros(e.data.amount) : 0n
      if (e.type === 'FundsCredited') available += amount
      if (e.type === 'FundsReserved') (available -= amount), (held += amount)
      if (e.type === 'ReservationReleased') (available += amount), (held -= amount)
      if (e.type === 'FundsDebited') held -= amount
    }
    for (const e of commit) {
      bookedAt = Math.max(bookedAt, Date.parse(e.recordedAt))
      out.push({ position: e.position, bookedAt, available, held })
    }
    i = j
  }
  return out
}

t.test('balances at 20 random past moments and positions equal a recomputation from the events (1,000+ movements)', async (t) => {
  const h = await httpHarness(t)
  const ledger = runLedger(t, h.store, h.db, { readModels: h.projections })
  const walletId = await h.activeWallet('pit')
  let movements = 0
  while (movements < 1000) {
    const roll = randomInt(10)
    if (roll < 4) {
      const mintId = randomUUID()
      await execute(h.store, requestMint, { mintId, walletId, amount: BigInt(randomInt(1, 1000)) * 10_000n }, meta())
      await execute(h.store, recordMintOutcome, { mintId, outcome: { type: 'completed', circleTransferId: `ct-${mintId}` } }, meta())
      movements += 1
    } else {
      const transferId = randomUUID()
      try {
        await execute(h.store, requestTransfer, { transferId, sourceWalletId: walletId, destination: CHAIN, amount: BigInt(randomInt(1, 300)) * 10_000n }, meta())
      } catch {
        continue
      }
      const outcome = roll < 8 ? { type: 'completed' as const, circleTransferId: `ct-${transferId}` } : { type: 'failed' as const, failure: { code: 'x', message: 'x' } }
      await execute(h.store, recordTransferOutcome, { transferId, outcome }, meta())
      movements += 2
    }
  }
  await ledger.settle()
  const events = (await h.store.readAll({ maxCount: 100_000 })).events
  const truth = replayWallet(events, walletId)
  const first = truth[0]!.bookedAt
  const last = truth.at(-1)!.bookedAt
  t.ok(last > first, 'the events span some time')

  const before = (await h.get(`/wallets/${walletId}/balances?at=2000-01-01T00:00:00Z`)).json()
  t.same(before.balances, { available: '0.00', held: '0.00', total: '0.00', currency: 'USD' }, 'before the first event, everything is zero')
  for (let i = 0; i < 20; i++) {
    const moment = first + randomInt(last - first + 1)
    const expected = truth.filter((x) => x.bookedAt <= moment).at(-1)!
    const at = new Date(moment).toISOString()
    const res = await h.get(`/wallets/${walletId}/balances?at=${at}`)
    t.same(
      [res.json().balances.available, res.json().balances.held],
      [formatAmount(expected.available), formatAmount(expected.held)],
      `at ${at}: as recomputed from the events`,
    )
  }
  for (let i = 0; i < 20; i++) {
    const expected = truth[randomInt(truth.length)]!
    const res = (await h.get(`/wallets/${walletId}/balances?at=${expected.position}`, auth.auditor)).json()
    t.same([res.balances.available, res.balances.held], [formatAmount(expected.available), formatAmount(expected.held)], `at position ${expected.position}`)
    const account = (await h.get(`/journal/accounts/wallet:${walletId}:available?at=${expected.position}&limit=1`, auth.auditor)).json()
    t.equal(account.balance, formatAmount(expected.available), 'the journal account agrees')
  }
  const now = (await h.get(`/wallets/${walletId}`)).json().balances
  const latest = (await h.get(`/wallets/${walletId}/balances`)).json().balances
  t.same([latest.available, latest.held], [now.available, now.reserved], 'without at: the balances now, as the wallet shows them')

  for (let i = 0; i < 5; i++) {
    const [x, y] = [randomInt(truth.length), randomInt(truth.length)].sort((p, q) => p - q) as [number, number]
    // A movement is booked at its commit's first position: the statement starts at a commit.
    let start = x
    while (start > 0 && events[start - 1]!.metadata.causationId === events[x]!.metadata.causationId) start--
    const from = truth[start]!.position
    const to = truth[y]!.position
    const s = (await h.get(`/wallets/${walletId}/statement?from=${from}&to=${to}`)).json()
    const opening = start === 0 ? { available: 0n, held: 0n } : truth[start - 1]!
    const closing = truth[y]!
    t.same([s.opening.available, s.opening.held], [formatAmount(opening.available), formatAmount(opening.held)], `statement ${from}..${to}: opening`)
    t.same([s.closing.available, s.closing.held], [formatAmount(closing.available), formatAmount(closing.held)], 'closing')
    const micros = (v: string) => {
      const [whole, fraction = ''] = v.split('.')
      return BigInt(`${whole}${fraction.padEnd(6, '0')}`)
    }
    const sum = (k: 'availableChange' | 'heldChange') => s.movements.reduce((acc: bigint, m: Record<string, string>) => acc + micros(m[k]!), 0n)
    t.equal(micros(s.opening.available) + sum('availableChange'), micros(s.closing.available), 'opening + movements = closing (available)')
    t.equal(micros(s.opening.held) + sum('heldChange'), micros(s.closing.held), 'opening + movements = closing (held)')
    if (s.movements.length > 0) t.equal(s.movements.at(-1).available, s.closing.available, 'the last running balance is the closing one')
  }
})

t.test('a statement as JSON and as CSV; backends may read it, unknown wallets are 404', async (t) => {
  const h = await httpHarness(t)
  const ledger = runLedger(t, h.store, h.db, { readModels: h.projections })
  const a = await h.activeWallet('a', '100')
  const transfer = (await h.post('/transfers', { sourceWalletId: a, destination: CHAIN, amount: '30.5' })).json()
  await execute(h.store, recordTransferOutcome, { transferId: transfer.id, outcome: { type: 'failed', failure: { code: 'x', message: 'x' } } }, meta())
  await ledger.settle()

  const json = await h.get(`/wallets/${a}/statement`)
  t.equal(json.statusCode, 200)
  const s = json.json()
  t.same(s.opening, { available: '0.00', held: '0.00', total: '0.00', currency: 'USD' })
  t.same(
    s.movements.map((m: Record<string, string>) => [m.eventType, m.availableChange, m.heldChange, m.available, m.held]),
    [
      ['MintCompleted', '100.00', '0.00', '100.00', '0.00'],
      ['TransferRequested', '-30.50', '30.50', '69.50', '30.50'],
      ['TransferFailed', '30.50', '-30.50', '100.00', '0.00'],
    ],
  )
  t.same(s.closing, { available: '100.00', held: '0.00', total: '100.00', currency: 'USD' })

  const csv = await h.app.inject({ method: 'GET', url: `/wallets/${a}/statement`, headers: { ...auth.backend, accept: 'text/csv' } })
  t.equal(csv.statusCode, 200)
  t.match(csv.headers['content-type'], /^text\/csv/)
  const rows = csv.body.trimEnd().split('\r\n').map((l) => l.split(','))
  t.same(rows[0], ['position', 'bookedAt', 'operationId', 'operationKind', 'eventType', 'description', 'availableChange', 'heldChange', 'available', 'held'])
  t.same(rows[1]!.slice(5), ['opening balance', '', '', '0.00', '0.00'])
  t.same(rows.slice(2, -1).map((r) => [r[4], r[6], r[7], r[8], r[9]]), s.movements.map((m: Record<string, string>) => [m.eventType, m.availableChange, m.heldChange, m.available, m.held]))
  t.same(rows.at(-1)!.slice(5), ['closing balance', '', '', '100.00', '0.00'])

  t.equal((await h.get(`/wallets/${a}/balances`, auth.backend)).statusCode, 200, 'backend may read balances')
  t.equal((await h.get(`/wallets/${a}/statement`, auth.auditor)).statusCode, 200, 'so may auditors')
  t.equal((await h.get(`/wallets/${randomUUID()}/statement`)).statusCode, 404)
  t.equal((await h.get(`/wallets/${randomUUID()}/balances`)).statusCode, 404)
  const bad = await h.get(`/wallets/${a}/balances?at=yesterday`)
  t.equal(bad.statusCode, 400)
  t.equal(bad.json().error.code, 'invalid_moment')
  const backwards = await h.get(`/wallets/${a}/statement?from=2026-11-26T10:00:00Z&to=2026-11-26T09:00:00Z`)
  t.equal(backwards.statusCode, 400)
  t.equal(backwards.json().error.code, 'invalid_range')
})
