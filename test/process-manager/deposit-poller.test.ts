import { randomUUID } from 'node:crypto'
import { sql } from 'kysely'
import pino from 'pino'
import t, { type Test } from 'tap'
import type { CircleTransfer } from '../../src/adapters/circle/port.ts'
import { PostgresEventStore } from '../../src/adapters/event-store/postgres.ts'
import { WrongExpectedVersion } from '../../src/events/event-store.ts'
import { UpstreamError } from '../../src/adapters/upstream-error.ts'
import { createWallet } from '../../src/commands/create-wallet.ts'
import { execute } from '../../src/commands/handler.ts'
import { fold } from '../../src/events/fold.ts'
import { recordDeposit } from '../../src/commands/record-deposit.ts'
import { recordWalletOutcome } from '../../src/commands/record-wallet-outcome.ts'
import { deposit } from '../../src/events/deposit.ts'
import { formatAmount } from '../../src/events/money.ts'
import { available, wallet } from '../../src/events/wallet.ts'
import { DepositPoller, waitingDeposits } from '../../src/process-manager/deposit-poller.ts'
import { Metrics } from '../../src/metrics.ts'
import { meta } from '../helpers/commands.ts'
import { circleIds } from '../../src/projections/circle-ids.ts'
import { readModels } from '../../src/projections/index.ts'
import { listWalletOperations } from '../../src/projections/wallet-operations.ts'
import { ProjectionRunner } from '../../src/subscriptions/projection-runner.ts'
import { processManagerHarness, until } from '../helpers/circle.ts'
import { testDatabase } from '../helpers/database.ts'

const silent = pino({ level: 'silent' })
/** A listed transfer's amount in USDC, as the Circle adapter gives it. */
const usd = (micro: bigint) => ({ currency: 'USD', amount: micro, amountText: formatAmount(micro) })

/** A wallet of ours at Circle as `cw-1`, on a fresh database, known to the poller (the Circle-id model has caught up). */
async function knownWallet(t: Test) {
  const database = await testDatabase(t)
  const store = new PostgresEventStore(database.pool, { pollIntervalMs: 50 })
  t.teardown(() => store.close())
  const walletId = randomUUID()
  await execute(store, createWallet, { walletId, ownerId: 'o' }, meta())
  await execute(store, recordWalletOutcome, { walletId, outcome: { type: 'created', circleWalletId: 'cw-1' } }, meta())
  const readSide = new ProjectionRunner({ projections: [circleIds], store, db: database.db })
  readSide.start()
  t.teardown(() => readSide.stop())
  await until(async () => (await database.db.selectFrom('circle_ids').selectAll().where('kind', '=', 'wallet').execute()).length === 1, 10_000, 'wallet known to the poller')
  return { database, store, walletId }
}

t.test('a deposit at the simulator credits the wallet with polling alone, once', async (t) => {
  const h = await processManagerHarness(t)
  // The read models run beside the poller, as in the service: it finds wallets in the Circle-id model.
  const readSide = new ProjectionRunner({ projections: readModels, store: h.store, db: h.db })
  readSide.start()
  t.teardown(() => readSide.stop())
  const poller = new DepositPoller({ store: h.store, db: h.db, pool: h.pool, circle: h.circle, logger: silent, intervalMs: 50, leaseRetryMs: 100 })
  poller.start()
  t.teardown(() => poller.stop())
  const walletId = randomUUID()
  await execute(h.store, createWallet, { walletId, ownerId: 'owner-1' }, meta())
  const circleWalletId = await until(async () => (await fold(h.store, wallet, walletId)).state.circleWalletId, 10_000, 'wallet at Circle')

  const sent = await h.sim.app.inject({ method: 'POST', url: '/sim/deposits', headers: h.sim.controlHeaders, payload: { walletId: circleWalletId, amount: '5.25', chain: 'SOL' } })
  t.equal(sent.statusCode, 201)
  const circleTransferId = sent.json().data.id as string
  await until(async () => available((await fold(h.store, wallet, walletId)).state) > 0n, 10_000, 'wallet credited')
  const { state } = await fold(h.store, wallet, walletId)
  t.equal(formatAmount(available(state)), '5.25')
  const events = await h.store.readStream(deposit.streamName(circleTransferId))
  t.match(events.map((e) => e.type), ['DepositCompleted'])
  t.match(events[0]?.data, { walletId, chain: 'SOL', amount: '5250000' })
  t.equal(events[0]?.metadata.actor, 'deposit-poller')
  // ... and shows in the wallet's operations, as backendMirror reads them.
  await readSide.caughtUp((await h.store.head())!)
  const timeline = await listWalletOperations(h.db, walletId, {})
  t.match(timeline.items, [{ operation_id: circleTransferId, kind: 'deposit', direction: 'in', status: 'completed', amount: '5250000' }], 'the deposit is in the wallet’s operations')

  await h.sim.app.inject({ method: 'POST', url: '/sim/deposits', headers: h.sim.controlHeaders, payload: { walletId: circleWalletId, amount: '1.00', chain: 'ETH' } })
  await until(async () => available((await fold(h.store, wallet, walletId)).state) === 6_250_000n, 10_000, 'second deposit')
  await new Promise((r) => setTimeout(r, 300))
  t.equal(available((await fold(h.store, wallet, walletId)).state), 6_250_000n, 'further polls credit nothing twice')
})

t.test('a deposit still pending when a newer transfer moves the mark past it is credited once it completes, asked for by id at the simulator', async (t) => {
  const h = await processManagerHarness(t, { settleMs: 1500 })
  const readSide = new ProjectionRunner({ projections: [circleIds], store: h.store, db: h.db })
  readSide.start()
  t.teardown(() => readSide.stop())
  const walletId = randomUUID()
  await execute(h.store, createWallet, { walletId, ownerId: 'owner-1' }, meta())
  const circleWalletId = await until(async () => (await fold(h.store, wallet, walletId)).state.circleWalletId, 10_000, 'wallet at Circle')
  await until(async () => (await h.db.selectFrom('circle_ids').selectAll().where('circle_id', '=', circleWalletId).execute()).length === 1, 10_000, 'wallet known to the poller')
  const froms: (string | undefined)[] = []
  const asked: string[] = []
  const circle = {
    masterWalletId: () => h.circle.masterWalletId(),
    listTransfers: (q: { from?: string; pageAfter?: string; pageSize?: number }) => (froms.push(q.from), h.circle.listTransfers(q)),
    getTransfer: (id: string) => (asked.push(id), h.circle.getTransfer(id)),
  }
  const poller = new DepositPoller({ store: h.store, db: h.db, pool: h.pool, circle, logger: silent, intervalMs: 60_000 })
  const deposit = async (circleWallet: string, amount: string) => {
    const sent = await h.sim.app.inject({ method: 'POST', url: '/sim/deposits', headers: h.sim.controlHeaders, payload: { walletId: circleWallet, amount, chain: 'SOL' } })
    t.equal(sent.statusCode, 201)
    return sent.json().data as { id: string; createDate: string; status: string }
  }

  const pending = await deposit(circleWalletId, '4.00')
  t.equal(pending.status, 'pending')
  t.equal((await poller.pollOnce()).waiting, 1, 'listed while pending: it waits')
  await new Promise((r) => setTimeout(r, 10))
  await deposit(await h.circle.masterWalletId(), '1.00') // USDC sent on-chain to the treasury: a newer transfer
  const moved = await poller.pollOnce()
  t.ok(moved.mark !== undefined && moved.mark > pending.createDate, 'the mark moves past the pending deposit')
  const listedFrom = froms.length

  await until(async () => (await poller.pollOnce(), available((await fold(h.store, wallet, walletId)).state) > 0n), 10_000, 'wallet credited')
  t.equal(formatAmount(available((await fold(h.store, wallet, walletId)).state)), '4.00')
  t.ok(
    froms.slice(listedFrom).every((from) => from !== undefined && from > pending.createDate),
    'no listing went back for it',
  )
  t.ok(asked.includes(pending.id), 'it was asked for by id')
  t.equal((await poller.pollOnce()).waiting, 0)
})

/** The store, except that every append loses its race while `busy` (a wallet other commands keep changing). */
function busyStore(store: PostgresEventStore) {
  const busy = {
    busy: true,
    store: Object.assign(Object.create(store) as PostgresEventStore, {
      appendMulti: (...args: Parameters<PostgresEventStore['appendMulti']>) => (busy.busy ? Promise.reject(new WrongExpectedVersion(args[0][0]!.stream, 0, 1)) : store.appendMulti(...args)),
    }),
  }
  return busy
}

/** A fake Circle listing `listing` (newest first) as Circle pages it, and answering for any transfer it ever listed by id. */
function fakeCircle(initial: CircleTransfer[]) {
  const fake = {
    listing: initial,
    /** What Circle answers for a transfer by id, as it is now (a listed transfer is added when listed). */
    byId: new Map<string, CircleTransfer>(),
    queries: [] as { from?: string; pageAfter?: string }[],
    asked: [] as string[],
    /** What Circle answers instead, by transfer id. */
    failing: new Map<string, Error>(),
    masterWalletId: async () => 'cw-master',
    async listTransfers(q: { from?: string; pageAfter?: string; pageSize?: number }) {
      fake.queries.push(q)
      const newestFirst = fake.listing.filter((x) => !q.from || x.createDate! >= q.from)
      const start = q.pageAfter ? newestFirst.findIndex((x) => x.id === q.pageAfter) + 1 : 0
      const page = newestFirst.slice(start, start + (q.pageSize ?? 50))
      for (const x of page) if (!fake.byId.has(x.id)) fake.byId.set(x.id, x)
      return page
    },
    async getTransfer(id: string) {
      fake.asked.push(id)
      const failure = fake.failing.get(id)
      if (failure) throw failure
      const found = fake.byId.get(id)
      if (!found) throw new Error(`no transfer ${id}`)
      return found
    },
  }
  return fake
}

t.test('a pending deposit and one to a wallet not yet known wait, asked for by id, while the mark moves to the newest', async (t) => {
  const { database, store, walletId } = await knownWallet(t)

  const base = Date.now() - 60_000
  const at = (s: number) => new Date(base + s * 1000).toISOString()
  const t1: CircleTransfer = { id: 'dep-1', status: 'complete', ...usd(1_000_000n), sourceChain: 'SOL', destination: { type: 'wallet', id: 'cw-1' }, createDate: at(1) }
  const t2: CircleTransfer = { id: 'dep-2', status: 'pending', ...usd(2_000_000n), sourceChain: 'SOL', destination: { type: 'wallet', id: 'cw-1' }, createDate: at(2) }
  const mint: CircleTransfer = { id: 'mint-1', status: 'complete', ...usd(9_000_000n), sourceWalletId: 'master', destination: { type: 'wallet', id: 'cw-1' }, createDate: at(3) }
  const circle = fakeCircle([mint, t2, t1])
  const poller = new DepositPoller({ store, db: database.db, pool: database.pool, circle, logger: silent, intervalMs: 60_000, pageSize: 2, leaseRetryMs: 50 })

  const first = await poller.pollOnce()
  t.equal(first.recorded, 1, 'the completed deposit is recorded; the mint (from a wallet) is not a deposit')
  t.equal(first.mark, at(3), 'the mark moves to the newest listed, past the pending deposit')
  t.equal(first.waiting, 1, 'which waits')
  t.same(circle.asked, [], 'a deposit is not asked for again in the poll that listed it')
  t.ok(circle.queries.some((q) => q.pageAfter === 'dep-2'), 'a full page is followed by the next one')

  // Still pending: asked for by id, and nothing is listed again.
  circle.queries.length = 0
  const second = await poller.pollOnce()
  t.same([second.recorded, second.waiting], [0, 1])
  t.same(circle.queries, [{ from: at(3), pageSize: 2 }], 'the next poll lists from the newest, not from the pending deposit')
  t.same(circle.asked, ['dep-2'])

  // It completes, and a deposit arrives for a Circle wallet the read model does not know yet.
  circle.byId.set('dep-2', { ...t2, status: 'complete' })
  const early: CircleTransfer = { id: 'dep-x', status: 'complete', ...usd(3n), sourceChain: 'ETH', destination: { type: 'wallet', id: 'cw-later' }, createDate: at(4) }
  circle.listing = [early, mint]
  const third = await poller.pollOnce()
  t.equal(third.recorded, 1, 'the deposit that completed since is recorded')
  t.equal(third.mark, at(4))
  t.equal(third.waiting, 1, 'the one to an unknown wallet waits')
  t.same(await database.db.selectFrom('circle_pending_deposits').select(['circle_transfer_id', 'reason']).execute(), [{ circle_transfer_id: 'dep-x', reason: 'unknown_wallet' }])
  t.equal(available((await fold(store, wallet, walletId)).state), 3_000_000n)

  // EURC into our wallet: Circle lists it like any inbound transfer, and it is never credited as USDC,
  // whether complete, pending, or to a wallet not known yet; nor is any of them waited for.
  const eurc = { currency: 'EUR', amount: undefined, amountText: '40.00', sourceChain: 'ETH' }
  circle.listing = [
    { id: 'dep-eurc', status: 'complete', ...eurc, destination: { type: 'wallet', id: 'cw-1' }, createDate: at(5) },
    { id: 'dep-eurc-pending', status: 'pending', ...eurc, destination: { type: 'wallet', id: 'cw-1' }, createDate: at(4.5) },
    { id: 'dep-eurc-unknown', status: 'complete', ...eurc, destination: { type: 'wallet', id: 'cw-unknown' }, createDate: at(4.2) },
    ...circle.listing,
  ]
  const foreign = await poller.pollOnce()
  t.equal(foreign.recorded, 0, 'a deposit in another currency is not recorded')
  t.equal(foreign.mark, at(5))
  t.equal(foreign.waiting, 1, 'nor waited for: asking again would not change that')
  t.notOk(circle.asked.includes('dep-x'), 'a deposit to a wallet still unknown is not asked for at Circle: only the read model can change its answer')
  t.same(await store.readStream(deposit.streamName('dep-eurc')), [])
  t.equal(available((await fold(store, wallet, walletId)).state), 3_000_000n, 'the wallet is not credited')

  // The wallet becomes known (its WalletCreated reaches the Circle-id model): the deposit is credited.
  const later = randomUUID()
  await execute(store, createWallet, { walletId: later, ownerId: 'o' }, meta())
  await execute(store, recordWalletOutcome, { walletId: later, outcome: { type: 'created', circleWalletId: 'cw-later' } }, meta())
  await until(async () => (await database.db.selectFrom('circle_ids').selectAll().where('circle_id', '=', 'cw-later').execute()).length === 1, 10_000, 'wallet known to the poller')
  const known = await poller.pollOnce()
  t.same([known.recorded, known.waiting], [1, 0], 'the deposit to it is recorded and waits no more')
  t.ok(circle.asked.includes('dep-x'), 'asked for at Circle once its wallet is known')
  t.equal(available((await fold(store, wallet, later)).state), 3n)

  circle.listing = [{ id: 'dep-old', status: 'complete', ...usd(3n), sourceChain: 'ETH', destination: { type: 'wallet', id: 'cw-unknown' }, createDate: new Date(Date.now() - 48 * 3_600_000).toISOString() }]
  const stale = new DepositPoller({ store, db: database.db, pool: database.pool, circle, logger: silent, intervalMs: 60_000, holdMs: 1000 })
  const given = await stale.pollOnce()
  t.same([given.recorded, given.waiting], [0, 0], 'an unknown wallet long past the hold is given up, not recorded nor waited for')

  // Everything listed again from the start (the mark lost): nothing is credited twice.
  circle.listing = [early, mint, { ...t2, status: 'complete' }, t1]
  await database.db.deleteFrom('circle_poll_marks').execute()
  const again = await poller.pollOnce()
  t.same([again.recorded, again.waiting], [0, 0], 'listing every deposit again records none of them twice')
  t.equal(available((await fold(store, wallet, walletId)).state), 3_000_000n)
  t.equal(available((await fold(store, wallet, later)).state), 3n)
})

t.test('waiting deposits are asked for a few a poll, least recently asked first; one Circle cannot answer for waits on, the others settle', async (t) => {
  const { database, store, walletId } = await knownWallet(t)
  const base = Date.now() - 60_000
  const at = (s: number) => new Date(base + s * 1000).toISOString()
  const pending = (i: number): CircleTransfer => ({ id: `dep-${i}`, status: 'pending', ...usd(BigInt(i) * 1_000_000n), sourceChain: 'ETH', destination: { type: 'wallet', id: 'cw-1' }, createDate: at(i) })
  const circle = fakeCircle([3, 2, 1].map(pending))
  const poller = new DepositPoller({ store, db: database.db, pool: database.pool, circle, logger: silent, intervalMs: 60_000, checksPerPoll: 2, leaseRetryMs: 50 })
  t.equal((await poller.pollOnce()).waiting, 3)
  circle.listing = []

  await poller.pollOnce()
  t.equal(circle.asked.length, 2, 'two a poll')
  await poller.pollOnce()
  t.equal(circle.asked.length, 4)
  t.same(new Set(circle.asked), new Set(['dep-1', 'dep-2', 'dep-3']), 'the one not asked for in the first poll is in the second')
  t.equal(circle.asked[2], [1, 2, 3].map((i) => `dep-${i}`).find((id) => !circle.asked.slice(0, 2).includes(id)), 'least recently asked first')

  // dep-1 fails at Circle, dep-2 completes, Circle cannot answer for dep-3 this time.
  circle.byId.set('dep-1', { ...pending(1), status: 'failed' })
  circle.byId.set('dep-2', { ...pending(2), status: 'complete' })
  circle.failing.set('dep-3', new Error('Circle timed out'))
  const wide = new DepositPoller({ store, db: database.db, pool: database.pool, circle, logger: silent, intervalMs: 60_000, leaseRetryMs: 50 })
  const settled = await wide.pollOnce()
  t.same([settled.recorded, settled.waiting], [1, 1], 'the completed one is recorded, the failed one dropped, the unanswered one still waits')
  t.equal(available((await fold(store, wallet, walletId)).state), 2_000_000n)
  circle.failing.clear()
  circle.byId.set('dep-3', { ...pending(3), status: 'complete' })
  const last = await wide.pollOnce()
  t.same([last.recorded, last.waiting], [1, 0])
  t.equal(available((await fold(store, wallet, walletId)).state), 5_000_000n, 'every deposit credited once')

  // Past the hold (30 s here; these deposits were first listed a minute ago): a Circle that does not
  // answer gives nothing up, a deposit still pending is given up, one Circle says it does not have too.
  circle.listing = [pending(10), pending(9)]
  t.equal((await wide.pollOnce()).waiting, 2)
  circle.listing = []
  await listedAgo(60)
  circle.failing.set('dep-9', new Error('Circle timed out'))
  circle.failing.set('dep-10', new UpstreamError('Circle: 404 not found', { transient: false, status: 404, code: 404 }))
  const strict = new DepositPoller({ store, db: database.db, pool: database.pool, circle, logger: silent, intervalMs: 60_000, holdMs: 30_000, leaseRetryMs: 50 })
  t.same(await waitingIds(), ['dep-10', 'dep-9'])
  t.equal((await strict.pollOnce()).waiting, 1)
  t.same(await waitingIds(), ['dep-9'], 'the one Circle refused to show is given up; the one it did not answer for waits on')
  circle.failing.clear()
  t.equal((await strict.pollOnce()).waiting, 0, 'still pending past the hold: given up')

  // A deposit that completed, past the hold, whose credit loses its races on a busy wallet: it waits
  // on, and is credited by the next poll (the ledger failing is never a reason to give a deposit up).
  circle.listing = [pending(11)]
  t.equal((await wide.pollOnce()).waiting, 1)
  circle.listing = []
  await listedAgo(60)
  circle.byId.set('dep-11', { ...pending(11), status: 'complete' })
  const busy = busyStore(store)
  const contended = new DepositPoller({ store: busy.store, db: database.db, pool: database.pool, circle, logger: silent, intervalMs: 60_000, holdMs: 30_000, leaseRetryMs: 50 })
  t.same(await contended.pollOnce(), { recorded: 0, mark: at(11), waiting: 1 }, 'the poll goes on; the deposit waits')
  busy.busy = false
  t.same([(await contended.pollOnce()).recorded, available((await fold(store, wallet, walletId)).state)], [1, 16_000_000n], 'then it is credited')

  /** Every waiting deposit first listed `seconds` ago. */
  async function listedAgo(seconds: number) {
    await sql`UPDATE circle_pending_deposits SET listed_at = now() - make_interval(secs => ${seconds})`.execute(database.db)
  }
  async function waitingIds() {
    return (await database.db.selectFrom('circle_pending_deposits').select('circle_transfer_id').orderBy('circle_transfer_id').execute()).map((r) => r.circle_transfer_id)
  }
})

t.test('deposits to unknown wallets cost no request and take no turn from ours; past the hold they are given up together; /metrics shows what waits', async (t) => {
  const { database, store, walletId } = await knownWallet(t)
  const created = new Date(Date.now() - 1000).toISOString()
  const to = (id: string, circleWallet: string): CircleTransfer => ({ id, status: 'pending', ...usd(1_000_000n), sourceChain: 'ETH', destination: { type: 'wallet', id: circleWallet }, createDate: created })
  const strangers = ['dep-s1', 'dep-s2', 'dep-s3'].map((id) => to(id, `cw-other-${id}`))
  const ours = to('dep-ours', 'cw-1')
  const circle = fakeCircle([...strangers, ours])
  const logged: { level: number; msg: string; circleTransferId?: string }[] = []
  const logger = pino({ level: 'info' }, { write: (line: string) => void logged.push(JSON.parse(line)) })
  const poller = new DepositPoller({ store, db: database.db, pool: database.pool, circle, logger, intervalMs: 60_000, checksPerPoll: 1, holdMs: 30_000, leaseRetryMs: 50 })
  t.equal((await poller.pollOnce()).waiting, 4)
  circle.listing = []

  for (let poll = 0; poll < 3; poll++) await poller.pollOnce()
  t.same(circle.asked, ['dep-ours', 'dep-ours', 'dep-ours'], 'only ours is asked for, every poll, one check a poll notwithstanding')

  const metrics = new Metrics()
  metrics.trackWaitingDeposits(() => waitingDeposits(database.db))
  await sql`UPDATE circle_pending_deposits SET listed_at = now() - interval '40 seconds' WHERE circle_transfer_id = 'dep-s1'`.execute(database.db)
  const text = await metrics.registry.metrics()
  t.match(text, /deposits_waiting\{reason="unknown_wallet"\} 3/)
  t.match(text, /deposits_waiting\{reason="pending"\} 1/)
  t.match(text, /deposits_waiting_oldest_age_seconds (39|40|41)(\.\d+)?\n/, 'the oldest waited 40 s')

  await sql`UPDATE circle_pending_deposits SET listed_at = now() - interval '40 seconds' WHERE circle_transfer_id IN ('dep-s2', 'dep-ours')`.execute(database.db)
  t.equal((await poller.pollOnce()).waiting, 1, 'past the hold: the two to unknown wallets are given up, and ours, still pending when asked')
  t.same((await database.db.selectFrom('circle_pending_deposits').select('circle_transfer_id').execute()).map((r) => r.circle_transfer_id), ['dep-s3'])
  t.same(
    logged.filter((l) => l.msg.endsWith('no longer waiting for it')).map((l) => l.circleTransferId).sort(),
    ['dep-ours', 'dep-s1', 'dep-s2'],
    'each said so',
  )
  t.equal(available((await fold(store, wallet, walletId)).state), 0n)
})

t.test('a listing that fails still lets waiting deposits be settled, and the pass still fails', async (t) => {
  const { database, store, walletId } = await knownWallet(t)
  const dep: CircleTransfer = { id: 'dep-a', status: 'pending', ...usd(2_000_000n), sourceChain: 'ETH', destination: { type: 'wallet', id: 'cw-1' }, createDate: new Date(Date.now() - 1000).toISOString() }
  const circle = fakeCircle([dep])
  const poller = new DepositPoller({ store, db: database.db, pool: database.pool, circle, logger: silent, intervalMs: 60_000, leaseRetryMs: 50 })
  t.equal((await poller.pollOnce()).waiting, 1)
  circle.byId.set('dep-a', { ...dep, status: 'complete' })
  circle.listTransfers = async () => {
    throw new Error('Circle timed out')
  }
  await t.rejects(poller.pollOnce(), /Circle timed out/, 'the pass fails (and is retried)')
  t.equal(available((await fold(store, wallet, walletId)).state), 2_000_000n, 'but the waiting deposit that completed is credited')
  t.same(await database.db.selectFrom('circle_pending_deposits').selectAll().execute(), [], 'and waits no more')
})

t.test('a zero-value transfer credits nothing, USDC sent to the treasury is not waited for, and a deposit the ledger refuses or cannot read is passed over: none stops the poll', async (t) => {
  const { database, store, walletId } = await knownWallet(t)
  // Recorded before (by a webhook, say) with another amount than Circle now lists: the ledger refuses it.
  await execute(store, recordDeposit, { circleTransferId: 'dep-conflict', walletId, amount: 1_000_000n }, meta())

  const base = Date.now() - 60_000
  const at = (s: number) => new Date(base + s * 1000).toISOString()
  const inbound = (id: string, micro: bigint, s: number): CircleTransfer => ({ id, status: 'complete', ...usd(micro), sourceChain: 'ETH', destination: { type: 'wallet', id: 'cw-1' }, createDate: at(s) })
  // Newest first, as Circle lists them.
  const toTreasury: CircleTransfer = { ...inbound('dep-treasury', 50_000_000n, 3.5), destination: { type: 'wallet', id: 'cw-master' } }
  // A USD amount no USDC transfer can carry, as the Circle adapter gives it: Circle's text, no amount.
  const unreadable: CircleTransfer = { ...inbound('dep-unreadable', 0n, 2.5), amount: undefined, amountText: '1.0000001' }
  const listing = [inbound('dep-new', 7_000_000n, 4), toTreasury, inbound('dep-dust', 0n, 3), unreadable, inbound('dep-conflict', 2_000_000n, 2), inbound('dep-old', 5_000_000n, 1)]
  const circle = fakeCircle(listing)
  const logged: string[] = []
  const logger = pino({ level: 'info' }, { write: (line: string) => void logged.push(JSON.parse(line).msg) })
  const poller = new DepositPoller({ store, db: database.db, pool: database.pool, circle, logger, intervalMs: 60_000, leaseRetryMs: 50 })

  const polled = await poller.pollOnce()
  t.equal(polled.recorded, 2, 'the deposits before and after them are recorded')
  t.equal(polled.mark, at(4), 'and the mark moves to the newest: none of them is listed again for nothing (USDC sent to the treasury included)')
  t.equal(available((await fold(store, wallet, walletId)).state), 13_000_000n, '1.00 recorded before, 7.00 and 5.00 now')
  t.same(await store.readStream(deposit.streamName('dep-dust')), [], 'the zero-value transfer is not a deposit')
  t.match((await store.readStream(deposit.streamName('dep-conflict'))).map((e) => e.data), [{ amount: '1000000' }], 'the refused one keeps what was recorded')
  t.ok(logged.includes('zero-value inbound transfer; nothing to credit'))
  t.ok(logged.includes('the ledger refused a deposit listed at Circle; not credited'))
  t.ok(logged.includes('treasury funded by an on-chain transfer'))
  t.same(await store.readStream(deposit.streamName('dep-treasury')), [])
  t.ok(logged.includes('deposit of a USD amount the ledger cannot read; not credited'))
  t.same(await store.readStream(deposit.streamName('dep-unreadable')), [])
})

t.test('a deposit that loses its races on a busy wallet fails the pass, which is retried: it is never passed over', async (t) => {
  const { database, store, walletId } = await knownWallet(t)
  const listing: CircleTransfer[] = [{ id: 'dep-busy', status: 'complete', ...usd(4_000_000n), sourceChain: 'ETH', destination: { type: 'wallet', id: 'cw-1' }, createDate: new Date(Date.now() - 1000).toISOString() }]
  const circle = fakeCircle(listing)
  // Every append loses its race, as on a wallet that other commands keep changing.
  const busy = busyStore(store)
  const poller = new DepositPoller({ store: busy.store, db: database.db, pool: database.pool, circle, logger: silent, intervalMs: 60_000, leaseRetryMs: 50 })
  await t.rejects(poller.pollOnce(), { code: 'concurrency_conflict' }, 'the pass fails')
  t.equal(await database.db.selectFrom('circle_poll_marks').select('mark').executeTakeFirst(), undefined, 'and the mark does not move past the deposit')
  busy.busy = false
  t.equal((await poller.pollOnce()).recorded, 1, 'the next pass credits it')
  t.equal(available((await fold(store, wallet, walletId)).state), 4_000_000n)
})

t.test('each page is recorded before the next is listed; a listing that fails part-way keeps what it recorded and leaves the mark', async (t) => {
  const { database, store, walletId } = await knownWallet(t)
  const base = Date.now() - 60_000
  const at = (s: number) => new Date(base + s * 1000).toISOString()
  // Six completed deposits, newest first, in pages of two.
  const listing: CircleTransfer[] = [6, 5, 4, 3, 2, 1].map((i) => ({ id: `dep-${i}`, status: 'complete', ...usd(BigInt(i) * 1_000_000n), sourceChain: 'ETH', destination: { type: 'wallet', id: 'cw-1' }, createDate: at(i) }))
  let failAt: string | undefined = 'dep-3'
  const creditedWhenListed: bigint[] = []
  const circle = {
    masterWalletId: async () => 'cw-master',
    getTransfer: async (): Promise<CircleTransfer> => {
      throw new Error('nothing waits in this test')
    },
    async listTransfers(q: { from?: string; pageAfter?: string; pageSize?: number }) {
      creditedWhenListed.push(available((await fold(store, wallet, walletId)).state))
      // The third page cannot be read this time.
      if (q.pageAfter !== undefined && q.pageAfter === failAt) throw new Error('Circle timed out')
      const newestFirst = listing.filter((x) => !q.from || x.createDate! >= q.from)
      const start = q.pageAfter ? newestFirst.findIndex((x) => x.id === q.pageAfter) + 1 : 0
      return newestFirst.slice(start, start + (q.pageSize ?? 50))
    },
  }
  const poller = new DepositPoller({ store, db: database.db, pool: database.pool, circle, logger: silent, intervalMs: 60_000, pageSize: 2, leaseRetryMs: 50 })
  await t.rejects(poller.pollOnce(), /Circle timed out/, 'the pass fails on the page it cannot read')
  t.same(creditedWhenListed, [0n, 11_000_000n, 18_000_000n], 'each page was credited before the next was asked for (6 + 5, then 4 + 3)')
  t.equal(await database.db.selectFrom('circle_poll_marks').select('mark').executeTakeFirst(), undefined, 'the mark does not move on a pass that did not finish')

  failAt = undefined
  const again = await poller.pollOnce()
  t.equal(again.recorded, 2, 'the next pass lists it all again and records only the two it had not reached')
  t.equal(again.mark, at(6), 'then the mark moves to the newest')
  t.equal(available((await fold(store, wallet, walletId)).state), 21_000_000n, 'every deposit credited once')
})
