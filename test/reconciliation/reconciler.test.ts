import { randomUUID } from 'node:crypto'
import pino from 'pino'
import { execute } from '../../src/commands/handler.ts'
import { linkBankAccount } from '../../src/commands/link-bank-account.ts'
import { recordBankAccountOutcome } from '../../src/commands/record-bank-account-outcome.ts'
import { requestRedeem } from '../../src/commands/request-redeem.ts'
import { bankAccount } from '../../src/events/bank-account.ts'
import { redeem } from '../../src/events/redeem.ts'
import t, { type Test } from 'tap'
import { fold } from '../../src/events/fold.ts'
import { mint } from '../../src/events/mint.ts'
import { formatAmount, parseAmount } from '../../src/events/money.ts'
import { beginRun, reconcile, Reconciler, reconcileOptionsOf, RunInProgress } from '../../src/reconciliation/reconciler.ts'
import { ABANDONED, listFindings, startRun, storedRun } from '../../src/reconciliation/runs.ts'
import { until } from '../helpers/circle.ts'
import { advisoryLockHolder, terminateLockHolder } from '../helpers/database.ts'
import { now, reconcileHarness } from '../helpers/reconcile.ts'

t.test('a mint Circle completed without a webhook, with polling off, is completed by the run through events', async (t) => {
  // The process manager submits and then stops: nobody polls, and no webhook consumer exists.
  const h = await reconcileHarness(t, { settleMs: 1500 }, { pollMs: 3_600_000 })
  const w = await h.newWallet()
  const mintId = await h.mintInto(w.walletId, parseAmount('12.50'), 'processing')
  await h.pm.stop()
  await until(async () => ((await h.sim.balanceOf(w.circleWalletId)) === parseAmount('12.50') ? true : undefined), 10_000, 'Circle settled the mint')
  t.equal((await fold(h.store, mint, mintId)).state.status, 'processing', 'the ledger still shows the mint processing')
  await h.settled()

  const run = await reconcile(h.deps, h.options, 'cli')
  t.equal(run.status, 'completed')
  const { state } = await fold(h.store, mint, mintId)
  t.equal(state.status, 'completed', 'the run recorded the completion')
  const events = await h.store.readStream(mint.streamName(mintId))
  t.equal(events.at(-1)!.type, 'MintCompleted')
  t.equal(events.at(-1)!.metadata.actor, 'reconciliation', 'recorded with actor reconciliation')
  const findings = await listFindings(h.db, run.id, {})
  t.same(
    findings.items.filter((f) => f.kind === 'operation_resolved').map((f) => f.subject),
    [`mint-${mintId}`],
    'reported as an operation the run resolved',
  )
  t.equal(run.counts.balance_mismatch, undefined, 'the balance check ran after the completion: no mismatch')
  const stream = await h.store.readStream(`reconciliation-${run.id}`)
  t.same(stream.map((e) => e.type), ['ReconciliationRunStarted', 'ReconciliationRunCompleted'])
  t.equal((stream[1]!.data as { outcome: string }).outcome, 'mismatches')
})

t.test('a mint still pending at Circle is reported stale with its age, and nothing is recorded', async (t) => {
  const h = await reconcileHarness(t, { settleMs: 3_600_000 }, { pollMs: 3_600_000 })
  const w = await h.newWallet()
  const mintId = await h.mintInto(w.walletId, parseAmount('3'), 'processing')
  await h.settled()
  const run = await reconcile(h.deps, h.options, 'cli')
  const stale = (await listFindings(h.db, run.id, { kind: 'stale_operation' })).items
  t.equal(stale.length, 1)
  t.equal(stale[0]!.subject, `mint-${mintId}`)
  t.equal(stale[0]!.details.status, 'processing')
  t.type(stale[0]!.details.ageSeconds, 'number')
  t.equal((await fold(h.store, mint, mintId)).state.status, 'processing', 'still processing')
})

/** Two funded wallets (40.00 and 10.00), whose Circle balances then move by these amounts behind the ledger's back. */
async function movedBehindOurBack(t: Test, moves: [string | undefined, string | undefined]) {
  const h = await reconcileHarness(t)
  const w = await h.newWallet()
  const other = await h.newWallet()
  await h.mintInto(w.walletId, parseAmount('40'))
  await h.mintInto(other.walletId, parseAmount('10'))
  for (const [wallet, amount] of [[w, moves[0]], [other, moves[1]]] as const) {
    if (amount !== undefined) await h.control('POST', `/sim/wallets/${wallet.circleWalletId}/adjust`, { amount })
  }
  await h.settled()
  return { h, w, other }
}

t.test('funds moved behind our back: a balance finding naming the wallet and both amounts', async (t) => {
  const { h, w } = await movedBehindOurBack(t, ['-7.25', undefined])

  const run = await reconcile(h.deps, h.options, 'http')
  t.equal(run.outcome, 'mismatches')
  const findings = (await listFindings(h.db, run.id, { kind: 'balance_mismatch' })).items
  t.equal(findings.length, 1, 'only the wallet that moved')
  t.equal(findings[0]!.subject, `wallet-${w.walletId}`)
  t.match(findings[0]!.details, { walletId: w.walletId, circleWalletId: w.circleWalletId, ledgerBalance: '40.00', circleBalance: '32.75', difference: '-7.25', inFlight: [] })
})

t.test('Circle not answering for a wallet on the second look is a check_failed finding, and the run goes on', async (t) => {
  const { h, w, other } = await movedBehindOurBack(t, ['-7.25', '-1.00'])
  // Each wallet's second look fails for the first wallet only.
  const looks = new Map<string, number>()
  const circle = Object.assign(Object.create(h.deps.circle) as typeof h.deps.circle, {
    getWallet: async (id: string) => {
      looks.set(id, (looks.get(id) ?? 0) + 1)
      if (id === w.circleWalletId && looks.get(id) === 2) throw new Error('Circle answered 503')
      return h.deps.circle.getWallet(id)
    },
  })
  const run = await reconcile({ ...h.deps, circle }, h.options, 'http')
  t.equal(run.status, 'completed', 'the run finishes')
  t.match((await listFindings(h.db, run.id, { kind: 'check_failed' })).items, [{ subject: `wallet-${w.walletId}`, details: { check: 'balance', error: 'Circle answered 503' } }])
  t.match((await listFindings(h.db, run.id, { kind: 'balance_mismatch' })).items, [{ subject: `wallet-${other.walletId}`, details: { difference: '-1.00' } }], 'the other wallet is still checked')
})

t.test('an unknown Circle transfer out of our wallet is a finding, reported once', async (t) => {
  const h = await reconcileHarness(t)
  const w = await h.newWallet()
  await h.mintInto(w.walletId, parseAmount('20'))
  const sent = await h.control('POST', '/sim/transfers', { sourceWalletId: w.circleWalletId, address: '0x2f8c2b0d3e5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c', chain: 'ETH', amount: '5.00' })
  const deposit = await h.control('POST', '/sim/deposits', { walletId: w.circleWalletId, amount: '1.00', chain: 'ETH' })
  await h.settled()
  const run = await reconcile(h.deps, h.options, 'cli')
  const unknown = (await listFindings(h.db, run.id, { kind: 'unknown_transfer' })).items
  t.equal(unknown.length, 1)
  t.equal(unknown[0]!.circleId, sent.data!.id)
  t.match(unknown[0]!.details, { amount: '5.00', currency: 'USD', source: { type: 'wallet', id: w.circleWalletId } })
  const missed = (await listFindings(h.db, run.id, { kind: 'unknown_deposit' })).items
  t.equal(missed.length, 1, 'the deposit nobody recorded is a missed deposit')
  t.equal(missed[0]!.circleId, deposit.data!.id)
  t.equal(run.counts.balance_mismatch, 1, 'and the wallet balance no longer matches')

  const second = await reconcile(h.deps, h.options, 'cli')
  t.equal(second.counts.unknown_transfer, undefined, 'the next run does not report it again')
  t.ok(second.listedFrom, 'the next run lists from the last high-water mark')
})

t.test('the account is listed once: a transfer between wallets not ours is left out, one into a wallet of ours is a finding', async (t) => {
  const h = await reconcileHarness(t)
  const w = await h.newWallet()
  // Two wallets of the same Circle account the ledger does not know (another system's).
  const a = await h.circle.createWallet({ idempotencyKey: randomUUID() })
  const b = await h.circle.createWallet({ idempotencyKey: randomUUID() })
  const deposit = await h.control('POST', '/sim/deposits', { walletId: a.walletId, amount: '10.00', chain: 'ETH' })
  await until(async () => ((await h.sim.balanceOf(a.walletId)) === parseAmount('10') ? true : undefined), 10_000, 'the deposit to a wallet not ours settled')
  const between = await h.circle.createTransfer({ idempotencyKey: randomUUID(), sourceWalletId: a.walletId, destination: { type: 'wallet', id: b.walletId }, amount: parseAmount('3') })
  const into = await h.circle.createTransfer({ idempotencyKey: randomUUID(), sourceWalletId: a.walletId, destination: { type: 'wallet', id: w.circleWalletId }, amount: parseAmount('2') })
  await until(async () => ((await h.sim.balanceOf(w.circleWalletId)) === parseAmount('2') ? true : undefined), 10_000, 'the transfer into our wallet settled')
  await until(async () => ((await h.sim.balanceOf(b.walletId)) === parseAmount('3') ? true : undefined), 10_000, 'the transfer between the two settled')
  await h.settled()
  const run = await reconcile(h.deps, h.options, 'cli')
  const found = (await listFindings(h.db, run.id, {})).items.filter((f) => f.kind.startsWith('unknown_'))
  t.same(
    found.map((f) => [f.kind, f.circleId]),
    [['unknown_transfer', into.id]],
    'only the transfer into our wallet is reported, not the one between two wallets not ours, nor the deposit into one of them',
  )
  t.match(found[0]!.details, { amount: '2.00', source: { type: 'wallet', id: a.walletId }, destination: { type: 'wallet', id: w.circleWalletId } })
  t.equal(run.checked.circleTransfers, 1, 'transfers checked: those touching a wallet of ours')
  const listed = (await h.circle.listAllTransfers({})).map((x) => x.id)
  t.ok([between.id, String(deposit.data!.id), into.id].every((id) => listed.includes(id)), 'all three are in the account’s listing')
})

t.test('a payout we did not ask for is a finding', async (t) => {
  const h = await reconcileHarness(t)
  const wire = await h.circle.createWireAccount({
    idempotencyKey: crypto.randomUUID(),
    details: { accountNumber: '12340010', routingNumber: '121000248', billingDetails: { name: 'H', line1: 'l', city: 'c', postalCode: '1', country: 'US' }, bankAddress: { country: 'US' } },
  })
  await until(async () => ((await h.circle.getWireAccount(wire.id)).status === 'complete' ? true : undefined), 10_000, 'wire complete')
  const payout = await h.circle.createPayout({ idempotencyKey: crypto.randomUUID(), wireAccountId: wire.id, amount: parseAmount('2') })
  await h.control('POST', `/sim/payouts/${payout.id}/complete`)
  const run = await reconcile(h.deps, h.options, 'cli')
  const found = (await listFindings(h.db, run.id, { kind: 'unknown_payout' })).items
  t.equal(found.length, 1)
  t.match(found[0]!.details, { circlePayoutId: payout.id, status: 'complete', amount: '2.00' })
})

t.test('a run while another holds the run lock is refused', async (t) => {
  const h = await reconcileHarness(t)
  const first = await beginRun(h.deps, h.options, 'cli')
  await t.rejects(beginRun(h.deps, h.options, 'http'), RunInProgress)
  const done = await first.finished
  t.equal(done.outcome, 'clean')
})

t.test('runs a process left running when it ended are closed as failed by the next run, recorded, whether or not their start was', async (t) => {
  const h = await reconcileHarness(t)
  // A process killed mid-run: its run stored and started, never finished.
  const killed = await startRun(h.db, h.store, 'schedule')
  // One killed between storing its run and recording its start.
  const early = randomUUID()
  await h.db.insertInto('reconciliation_runs').values({ id: early, trigger: 'cli', status: 'running', outcome: null, created_at: new Date(), error: null }).execute()

  const next = await reconcile(h.deps, h.options, 'http')
  t.equal(next.outcome, 'clean')
  for (const id of [killed.id, early]) {
    t.match(await storedRun(h.db, id), { status: 'failed', outcome: 'failed', error: ABANDONED, highWaterMark: null }, id)
    const events = await h.store.readStream(`reconciliation-${id}`)
    t.match(events.at(-1), { type: 'ReconciliationRunCompleted', data: { outcome: 'failed', error: ABANDONED } })
  }
  t.same((await h.store.readStream(`reconciliation-${killed.id}`)).map((e) => e.type), ['ReconciliationRunStarted', 'ReconciliationRunCompleted'])
  t.same((await h.db.selectFrom('reconciliation_runs').select('id').where('status', '=', 'running').execute()), [], 'nothing left running')
})

t.test('a run that loses its run lock stops, recorded as failed, rather than going on beside the next', async (t) => {
  const h = await reconcileHarness(t)
  await h.newWallet()
  await h.settled()
  // Circle's answer for the wallet is held until the lock is gone.
  let asked!: () => void
  const askedFor = new Promise<void>((resolve) => (asked = resolve))
  let answer!: () => void
  const answered = new Promise<void>((resolve) => (answer = resolve))
  const circle = Object.create(h.circle) as typeof h.circle
  circle.getWallet = async (id: string) => {
    asked()
    await answered
    return h.circle.getWallet(id)
  }
  const { run, finished } = await beginRun({ ...h.deps, circle }, h.options, 'cli')
  await askedFor
  // The run lock's connection is ended by the server (a failover, an admin).
  const pid = await advisoryLockHolder(h.db, 'reconciliation-run')
  t.ok(pid, 'the run holds its lock')
  await terminateLockHolder(h.db, 'reconciliation-run')
  await until(async () => ((await h.pool.query('SELECT 1 FROM pg_stat_activity WHERE pid = $1', [pid])).rowCount === 0 ? true : undefined), 10_000, 'lock connection gone')
  await new Promise((resolve) => setTimeout(resolve, 100))
  answer()
  const done = await finished
  t.match(done, { id: run.id, status: 'failed', outcome: 'failed', error: /lease reconciliation-run lost/ })
})

t.test('two reconcilers started at once leave one active', async (t) => {
  const h = await reconcileHarness(t)
  const make = () => new Reconciler({ ...h.deps, logger: pino({ level: 'silent' }) }, { ...h.options, intervalMs: 60_000, firstRunMs: 0, leaseRetryMs: 50 })
  const a = make()
  const b = make()
  a.start()
  b.start()
  t.teardown(async () => {
    await a.stop()
    await b.stop()
  })
  await until(async () => (a.active || b.active ? true : undefined), 10_000, 'one reconciler active')
  await new Promise((r) => setTimeout(r, 300))
  t.equal([a, b].filter((r) => r.active).length, 1, 'exactly one active')
  const runs = await h.db.selectFrom('reconciliation_runs').select(['trigger']).execute()
  t.equal(runs.length, 1, 'one scheduled run, by the active one')
  const standby = a.active ? b : a
  await (a.active ? a : b).stop()
  await until(async () => (standby.active ? true : undefined), 10_000, 'the standby takes over')
  t.pass('the standby took over after the active one stopped')
})

t.test('with polling off, runs settle a wire account and each redeem step Circle finished, the payout completed silently', async (t) => {
  const h = await reconcileHarness(t, { settleMs: 800 }, { pollMs: 3_600_000 })
  const w = await h.newWallet()
  const mintId = await h.mintInto(w.walletId, parseAmount('20'), 'processing')
  const bankAccountId = randomUUID()
  await execute(h.store, linkBankAccount, { bankAccountId, ownerId: 'owner', accountType: 'us', last4: '0010', holderName: 'H', country: 'US' }, now())
  const wire = await h.circle.createWireAccount({
    idempotencyKey: randomUUID(),
    details: { accountNumber: '12340010', routingNumber: '121000248', billingDetails: { name: 'H', line1: 'l', city: 'c', postalCode: '1', country: 'US' }, bankAddress: { country: 'US' } },
  })
  await execute(h.store, recordBankAccountOutcome, { bankAccountId, outcome: { type: 'submitted', circleWireId: wire.id } }, now())
  await until(async () => ((await h.circle.getWireAccount(wire.id)).status === 'complete' && (await h.circle.getTransfer((await fold(h.store, mint, mintId)).state.circleTransferId!)).status === 'complete' ? true : undefined), 10_000, 'Circle settled')
  await h.settled()
  const first = await reconcile(h.deps, h.options, 'cli')
  t.same(
    (await listFindings(h.db, first.id, { kind: 'operation_resolved' })).items.map((f) => f.subject).sort(),
    [`bankaccount-${bankAccountId}`, `mint-${mintId}`].sort(),
    'the mint and the bank account are settled by the run',
  )
  t.equal((await fold(h.store, bankAccount, bankAccountId)).state.status, 'active')

  const redeemId = randomUUID()
  await execute(h.store, requestRedeem, { redeemId, walletId: w.walletId, bankAccountId, amount: parseAmount('5') }, now())
  const step1 = await until(async () => (await fold(h.store, redeem, redeemId)).state.circleTransferId, 10_000, 'step 1 sent')
  await until(async () => ((await h.circle.getTransfer(step1)).status === 'complete' ? true : undefined), 10_000, 'step 1 settled at Circle')
  await h.settled()
  await reconcile(h.deps, h.options, 'cli')
  // The recorded step 1 wakes the process manager, which sends the payout and then stops polling.
  const payoutId = await until(async () => (await fold(h.store, redeem, redeemId)).state.circlePayoutId, 10_000, 'payout sent')
  await h.pm.stop()
  await h.control('POST', `/sim/payouts/${payoutId}/complete`)
  await h.settled()
  const third = await reconcile(h.deps, h.options, 'cli')
  t.equal((await fold(h.store, redeem, redeemId)).state.status, 'completed', 'the silently completed payout completes the redeem')
  const last = (await h.store.readStream(redeem.streamName(redeemId))).at(-1)!
  t.same([last.type, last.metadata.actor], ['RedeemCompleted', 'reconciliation'])
  t.equal(third.counts.balance_mismatch, undefined, 'and the wallet matches Circle: 15.00 both sides')
  t.equal(await h.sim.balanceOf(w.circleWalletId), parseAmount('15'))
})

t.test('a run stopped half-way is stored as failed, recorded, and leaves no high-water mark', async (t) => {
  const h = await reconcileHarness(t)
  await h.newWallet()
  await h.settled()
  const stop = new AbortController()
  stop.abort(new Error('the reconciler is stopping'))
  const run = await reconcile(h.deps, { ...h.options, signal: stop.signal }, 'schedule')
  t.match(run, { status: 'failed', outcome: 'failed', error: 'the reconciler is stopping', highWaterMark: null })
  const events = await h.store.readStream(`reconciliation-${run.id}`)
  t.match(events.at(-1), { type: 'ReconciliationRunCompleted', data: { outcome: 'failed', error: 'the reconciler is stopping' } })
  const next = await reconcile(h.deps, h.options, 'cli')
  t.equal(next.listedFrom, null, 'the next run lists from the beginning: the failed one marked nothing')
  t.equal(next.outcome, 'clean')
})

t.test('a run stopped after its last call to Circle is still stored as failed, not finished', async (t) => {
  const h = await reconcileHarness(t)
  await h.newWallet()
  await h.settled()
  const stop = new AbortController()
  // The last phase's last progress: every Circle call is made; only recording the run is left.
  const run = await reconcile(h.deps, { ...h.options, signal: stop.signal }, 'cli', (phase, done, total) => {
    if (phase === 'unknown' && done === total) stop.abort(new Error('interrupted by SIGINT'))
  })
  t.ok(stop.signal.aborted, 'the last phase reported its end')
  t.match(run, { status: 'failed', outcome: 'failed', error: 'interrupted by SIGINT', highWaterMark: null })
})

t.test('a run stopped among stale operations keeps the findings of those it already resolved', async (t) => {
  const h = await reconcileHarness(t, { settleMs: 1500 }, { pollMs: 3_600_000 })
  const w = await h.newWallet()
  const mints = [await h.mintInto(w.walletId, parseAmount('1'), 'processing'), await h.mintInto(w.walletId, parseAmount('2'), 'processing')]
  await h.pm.stop()
  await until(async () => ((await h.sim.balanceOf(w.circleWalletId)) === parseAmount('3') ? true : undefined), 10_000, 'Circle settled both mints')
  await h.settled()
  const stop = new AbortController()
  const run = await reconcile(h.deps, { ...h.options, signal: stop.signal }, 'cli', (phase, done) => {
    if (phase === 'stale' && done === 1) stop.abort(new Error('interrupted by SIGINT'))
  })
  t.match(run, { status: 'failed', error: 'interrupted by SIGINT', checked: { operations: 1 } })
  const resolved = (await listFindings(h.db, run.id, { kind: 'operation_resolved' })).items
  t.equal(resolved.length, 1, 'the one resolved before the stop is a finding of the run')
  const completed = await Promise.all(mints.map(async (id) => (await fold(h.store, mint, id)).state.status))
  t.same(completed.filter((s) => s === 'completed').length, 1, 'and only that one was recorded')
  t.equal(resolved[0]!.subject, `mint-${mints[completed.indexOf('completed')]}`)
})

t.test('treasury moved behind our back: a treasury finding with both amounts, reported once; our own mints move nothing', async (t) => {
  const h = await reconcileHarness(t)
  const w = await h.newWallet()
  await h.mintInto(w.walletId, parseAmount('10'))
  await h.settled()
  const first = await reconcile(h.deps, h.options, 'cli')
  t.equal(first.outcome, 'clean', 'the first run takes note of the treasury')
  await h.mintInto(w.walletId, parseAmount('15'))
  await h.settled()
  t.equal((await reconcile(h.deps, h.options, 'cli')).outcome, 'clean', 'a mint of ours moves the treasury as the ledger says')

  const before = (await h.circle.treasuryBalance())
  await h.control('POST', `/sim/wallets/${h.sim.masterWalletId}/adjust`, { amount: '-3.00' })
  const run = await reconcile(h.deps, h.options, 'cli')
  const found = (await listFindings(h.db, run.id, { kind: 'treasury_mismatch' })).items
  t.equal(found.length, 1)
  t.match(found[0]!.details, { circleBalance: formatAmount(before - parseAmount('3')), ledgerExpected: formatAmount(before), difference: '-3.00', inFlight: [] })
  t.equal((await reconcile(h.deps, h.options, 'cli')).outcome, 'clean', 'reported once: the next run compares with the moved treasury')
})

t.test('a balance difference is looked at again after two deposit-poller intervals, between 0.5 s and 15 s', async (t) => {
  const of = (poll: number) => reconcileOptionsOf({ RECONCILE_STALE_AFTER: 900_000, RECONCILE_GRACE: 60_000, CIRCLE_POLL_INTERVAL_MS: poll })
  t.same(of(5000), { staleAfterMs: 900_000, graceMs: 60_000, recheckMs: 10_000 }, 'the default interval: a deposit completed just before the run is credited by then')
  t.equal(of(50).recheckMs, 500)
  t.equal(of(3_600_000).recheckMs, 15_000, 'polling off: at most 15 s')
})
