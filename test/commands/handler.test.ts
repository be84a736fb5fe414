import { randomUUID } from 'node:crypto'
import t, { type Test } from 'tap'
import { z } from 'zod'
import { MemoryEventStore } from '../../src/adapters/event-store/memory.ts'
import { PostgresEventStore } from '../../src/adapters/event-store/postgres.ts'
import { createWallet } from '../../src/commands/create-wallet.ts'
import { ConcurrencyConflict, DomainError } from '../../src/commands/errors.ts'
import { execute, type Decider, type ExecuteOptions } from '../../src/commands/handler.ts'
import { locksOf } from '../../src/commands/stream-locks.ts'
import { fold } from '../../src/events/fold.ts'
import { recordMintOutcome } from '../../src/commands/record-mint-outcome.ts'
import { recordTransferOutcome } from '../../src/commands/record-transfer-outcome.ts'
import { recordWalletOutcome } from '../../src/commands/record-wallet-outcome.ts'
import { requestMint } from '../../src/commands/request-mint.ts'
import { requestTransfer } from '../../src/commands/request-transfer.ts'
import { WrongExpectedVersion, type EventStore } from '../../src/events/event-store.ts'
import type { StreamType } from '../../src/events/event.ts'
import { parseAmount } from '../../src/events/money.ts'
import { available, reserved, wallet } from '../../src/events/wallet.ts'
import { meta } from '../helpers/commands.ts'
import { testDatabase } from '../helpers/database.ts'
import { newEvent } from '../helpers/events.ts'

/** Creates an active wallet holding `balance` through the real commands. */
async function fundedWallet(store: EventStore, balance: string): Promise<string> {
  const walletId = randomUUID()
  await execute(store, createWallet, { walletId, ownerId: 'owner-1' }, meta())
  await execute(store, recordWalletOutcome, { walletId, outcome: { type: 'created', circleWalletId: `cw-${walletId}` } }, meta({ actor: 'process-manager' }))
  const mintId = randomUUID()
  await execute(store, requestMint, { mintId, walletId, amount: parseAmount(balance) }, meta())
  await execute(store, recordMintOutcome, { mintId, outcome: { type: 'completed', circleTransferId: `ct-${mintId}` } }, meta({ actor: 'process-manager' }))
  return walletId
}

t.test('a command appends to every stream it decided on, with metadata from the command', async (t) => {
  const store = new MemoryEventStore()
  const walletId = await fundedWallet(store, '100')
  const m = meta({ requestId: 'req-7', idempotencyKey: 'idem-7' })
  const transferId = randomUUID()
  const result = await execute(
    store,
    requestTransfer,
    { transferId, sourceWalletId: walletId, destination: { type: 'blockchain', chain: 'ETH', address: '0x52908400098527886E0F7030069857D2E4169EE7' }, amount: parseAmount('30') },
    m,
  )
  t.same(result.appended.map((a) => a.stream).sort(), [`transfer-${transferId}`, `wallet-${walletId}`].sort())
  const [event] = await store.readStream(`transfer-${transferId}`)
  t.same(event?.metadata, { correlationId: transferId, causationId: m.commandId, actor: 'test-backend', occurredAt: m.occurredAt, requestId: 'req-7', idempotencyKey: 'idem-7' })
  t.equal(available(result.state.source), parseAmount('70'), 'the returned state includes the new events')
  t.ok(result.position)
})

t.test('re-running the same command id writes nothing twice', async (t) => {
  const store = new MemoryEventStore()
  const walletId = randomUUID()
  const m = meta()
  await execute(store, createWallet, { walletId, ownerId: 'o' }, m)
  const again = await execute(store, createWallet, { walletId, ownerId: 'o' }, m).catch((e: unknown) => e)
  t.ok(again instanceof DomainError && again.code === 'already_exists', 'the decider sees the wallet exists')
  const outcome = { walletId, outcome: { type: 'created' as const, circleWalletId: 'cw' } }
  const pm = meta({ actor: 'process-manager' })
  await execute(store, recordWalletOutcome, outcome, pm)
  const repeat = await execute(store, recordWalletOutcome, outcome, pm)
  t.same(repeat.appended, [], 'a duplicate outcome appends nothing')
  t.equal((await store.readStream(`wallet-${walletId}`)).length, 2)
})

t.test('a lost race is retried against fresh state; endless races end in ConcurrencyConflict', async (t) => {
  const inner = new MemoryEventStore()
  let conflicts = 2
  const flaky: EventStore = Object.assign(Object.create(inner) as EventStore, {
    appendMulti: async (appends: Parameters<EventStore['appendMulti']>[0]) => {
      if (conflicts-- > 0) throw new WrongExpectedVersion(appends[0]!.stream, appends[0]!.expected, 0)
      return inner.appendMulti(appends)
    },
  })
  const walletId = randomUUID()
  await execute(flaky, createWallet, { walletId, ownerId: 'o' }, meta())
  t.equal((await inner.readStream(`wallet-${walletId}`)).length, 1, 'written after two lost races')
  conflicts = Infinity
  await t.rejects(execute(flaky, createWallet, { walletId: randomUUID(), ownerId: 'o' }, meta(), { maxAttempts: 3 }), ConcurrencyConflict)
  t.equal(locksOf(flaky).size, 0, 'no stream left held after lost races')
})

/** Counts the store's appends, and those it refused for a wrong expected revision (another writer got there first). */
function countAppends(store: EventStore) {
  const counts = { appends: 0, refused: 0 }
  const appendMulti = store.appendMulti.bind(store)
  store.appendMulti = async (...args) => {
    counts.appends++
    try {
      return await appendMulti(...args)
    } catch (err) {
      if (err instanceof WrongExpectedVersion) counts.refused++
      throw err
    }
  }
  return counts
}

/** A transfer of `amount` between two wallets, a new transfer id each call. */
const transferBetween = (store: EventStore, source: string, destination: string) => (amount: string, options?: ExecuteOptions) =>
  execute(store, requestTransfer, { transferId: randomUUID(), sourceWalletId: source, destination: { type: 'wallet', walletId: destination }, amount: parseAmount(amount) }, meta(), options)

t.test('commands of one process appending to one stream queue for it instead of racing: no append is refused', async (t) => {
  const store = new MemoryEventStore()
  const source = await fundedWallet(store, '100')
  const destination = await fundedWallet(store, '1')
  const counts = countAppends(store)
  const transfer = transferBetween(store, source, destination)
  const results = await Promise.allSettled(Array.from({ length: 20 }, () => transfer('1')))
  t.equal(results.filter((r) => r.status === 'fulfilled').length, 20, 'all 20 written')
  t.equal(counts.refused, 0, 'none refused by the store')
  t.equal(counts.appends, 20, 'one append each')
  t.equal(available((await fold(store, wallet, source)).state), parseAmount('80'), 'each decided from the one before it')
  t.equal(locksOf(store).size, 0, 'no stream left held')

  // 80.00 left: the second of two 60.00 transfers waits for the first, decides again holding the
  // wallet, and is refused by the rules; deciding again used up none of its one attempt.
  const [first, second] = await Promise.allSettled([transfer('60', { maxAttempts: 1 }), transfer('60', { maxAttempts: 1 })])
  t.equal(first?.status, 'fulfilled')
  t.ok(second?.status === 'rejected' && second.reason instanceof DomainError && second.reason.code === 'insufficient_funds', 'the second: insufficient_funds, not concurrency_conflict')
  t.equal(counts.refused, 0)
  t.equal(locksOf(store).size, 0, 'released after the refusal too')
  const both = await Promise.allSettled([transfer('10', { maxAttempts: 1 }), transfer('10', { maxAttempts: 1 })])
  t.same(both.map((r) => r.status), ['fulfilled', 'fulfilled'], 'with one attempt each, both written: waiting for the wallet is not a lost race')
})

t.test('50 concurrent transfers of 10.00 from a wallet holding 100.00 on Postgres: exactly 10 succeed', async (t) => {
  const { pool } = await testDatabase(t)
  const store = new PostgresEventStore(pool)
  t.teardown(() => store.close())
  const walletId = await fundedWallet(store, '100.00')
  const destination = await fundedWallet(store, '0.000001')
  const before = (await store.readStream(`wallet-${walletId}`)).length
  const counts = countAppends(store)
  const transfer = transferBetween(store, walletId, destination)
  const results = await Promise.allSettled(Array.from({ length: 50 }, () => transfer('10.00')))
  const ok = results.filter((r) => r.status === 'fulfilled')
  const refused = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected')
  t.equal(ok.length, 10, '10 succeed')
  t.equal(refused.length, 40, '40 fail')
  t.ok(refused.every((r) => r.reason instanceof DomainError && r.reason.code === 'insufficient_funds'), 'every failure is insufficient_funds')
  const { state, revision } = await fold(store, wallet, walletId)
  t.equal(reserved(state), parseAmount('100'), '100.00 reserved')
  t.equal(available(state), 0n, '0 available')
  const events = await store.readStream(`wallet-${walletId}`)
  t.equal(events.length - before, 10, 'exactly one reservation per successful transfer')
  t.equal(revision, events.length - 1)
  t.equal(new Set(events.map((e) => e.id)).size, events.length, 'no duplicated event')
  const transfers = await store.readAll({ filter: { types: ['TransferRequested'] }, maxCount: 1000 })
  t.equal(transfers.events.length, 10, 'one transfer stream per success, none lost')
  t.equal(counts.refused, 0, 'one process: the transfers took turns for the wallet, none lost a race at the database')
  t.equal(locksOf(store).size, 0, 'no stream left held')
})

/** Records every read of the store's streams: each `readStreams` call's streams, and each single `readStream`'s. */
function countReads(store: PostgresEventStore) {
  const reads = { together: [] as string[][], single: [] as string[] }
  const readStreams = store.readStreams.bind(store)
  store.readStreams = async (streams, maxCount) => {
    reads.together.push(streams.map((r) => r.stream))
    return readStreams(streams, maxCount)
  }
  const readStream = store.readStream.bind(store)
  store.readStream = async (stream, ...rest) => {
    reads.single.push(stream)
    return readStream(stream, ...rest)
  }
  return reads
}

/** A Postgres store on a fresh database, with two active wallets holding 100.00 and 1.00. */
async function postgresWithWallets(t: Test) {
  const { pool } = await testDatabase(t)
  const store = new PostgresEventStore(pool)
  t.teardown(() => store.close())
  return { pool, store, source: await fundedWallet(store, '100'), destination: await fundedWallet(store, '1') }
}

t.test('the streams of one step are read together: a transfer between wallets reads its three streams in one call', async (t) => {
  const { store, source, destination } = await postgresWithWallets(t)
  const reads = countReads(store)
  const transferId = randomUUID()
  const result = await execute(store, requestTransfer, { transferId, sourceWalletId: source, destination: { type: 'wallet', walletId: destination }, amount: parseAmount('30') }, meta())
  t.same(reads.together, [[`transfer-${transferId}`, `wallet-${source}`, `wallet-${destination}`]], 'one statement for the step')
  t.same(reads.single, [], 'no stream read on its own')
  t.equal(available(result.state.source), parseAmount('70'))
})

t.test('streams named by a cached stream are read with it: a transfer outcome reads the transfer and its wallets in one call', async (t) => {
  const { pool, store, source, destination } = await postgresWithWallets(t)
  const transferId = randomUUID()
  await execute(store, requestTransfer, { transferId, sourceWalletId: source, destination: { type: 'wallet', walletId: destination }, amount: parseAmount('30') }, meta())
  const reads = countReads(store)
  const completed = { transferId, outcome: { type: 'completed' as const, circleTransferId: `ct-${transferId}` } }
  const result = await execute(store, recordTransferOutcome, completed, meta({ actor: 'process-manager' }))
  t.same(reads.together, [[`transfer-${transferId}`, `wallet-${source}`, `wallet-${destination}`]], 'one statement: the wallets were guessed from the cached transfer')
  t.same(reads.single, [], 'no second step')
  t.same(result.appended.map((a) => a.stream).sort(), [`transfer-${transferId}`, `wallet-${source}`, `wallet-${destination}`].sort())
  t.equal(available((await fold(store, wallet, destination)).state), parseAmount('31'), 'the destination is credited')
  t.equal(reserved((await fold(store, wallet, source)).state), 0n, 'the reservation is debited')

  // With nothing cached there is nothing to guess: two steps, as without a cache.
  const cold = new PostgresEventStore(pool)
  t.teardown(() => cold.close())
  const coldReads = countReads(cold)
  const repeat = await execute(cold, recordTransferOutcome, completed, meta({ actor: 'process-manager' }))
  t.same(repeat.appended, [], 'the repeat appends nothing')
  t.same(coldReads.single, [`transfer-${transferId}`], 'first the transfer alone')
  t.same(coldReads.together, [[`wallet-${source}`, `wallet-${destination}`]], 'then its wallets')
})

/** A stream that points at a counter, which another process may re-point: a related stream that changes. */
type PointerEvent = { type: 'Pointed'; data: { to: string | null } }
const pointer: StreamType<{ to: string | null }, PointerEvent> = {
  category: 'pointer',
  streamName: (id) => `pointer-${id}`,
  initialState: { to: null },
  evolve: (_s, e) => ({ to: e.data.to }),
}
type CounterEvent = { type: 'Bumped'; data: { by: number } }
const counter: StreamType<{ bumps: number }, CounterEvent> = {
  category: 'counter',
  streamName: (id) => `counter-${id}`,
  initialState: { bumps: 0 },
  evolve: (s, e) => ({ bumps: s.bumps + e.data.by }),
}
type BumpState = { pointer: { to: string | null }; target?: { bumps: number } }
const bumpTarget: Decider<{ pointerId: string }, BumpState, { pointer: PointerEvent; target: CounterEvent }> = {
  schema: z.object({ pointerId: z.string() }),
  streams: (c) => ({ pointer: { type: pointer, id: c.pointerId } }),
  related: (_c, s) => {
    if (s.pointer?.to === 'nowhere') throw new Error('the pointer points nowhere')
    return { target: s.pointer?.to ? { type: counter, id: s.pointer.to } : null }
  },
  decide: (_c, s) => (s.target ? { target: [{ type: 'Bumped', data: { by: 1 } }] } : {}),
  correlationId: (c) => c.pointerId,
}

t.test('a related stream guessed from a stale cache is dropped, and the one the store names is read and decided on', async (t) => {
  const { pool } = await testDatabase(t)
  const store = new PostgresEventStore(pool)
  const other = new PostgresEventStore(pool)
  t.teardown(async () => {
    await store.close()
    await other.close()
  })
  const pointerId = randomUUID()
  const [a, b] = [randomUUID(), randomUUID()]
  // b at the same revision as a will be, with another count: a decision kept on a's state would append to b and be caught only by its count.
  await other.append(`counter-${b}`, [newEvent('Bumped', { by: 10 })], { expected: 'no_stream' })
  await store.append(`pointer-${pointerId}`, [newEvent('Pointed', { to: a })], { expected: 'no_stream' })
  await execute(store, bumpTarget, { pointerId }, meta())
  t.equal((await fold(store, counter, a)).state.bumps, 1, 'the pointer at a: a bumped')

  // Another process re-points it; this process's cache still says a.
  await other.append(`pointer-${pointerId}`, [newEvent('Pointed', { to: b })], { expected: 0 })
  const reads = countReads(store)
  const result = await execute(store, bumpTarget, { pointerId }, meta())
  t.same(reads.together, [[`pointer-${pointerId}`, `counter-${a}`]], 'the guess (a) is read with the pointer')
  t.same(reads.single, [`counter-${b}`], 'then the counter the pointer names now')
  t.same(result.appended.map((x) => x.stream), [`counter-${b}`], 'b is bumped')
  t.same(result.state.target, { bumps: 11 }, "the state is b's")
  t.equal((await fold(other, counter, a)).state.bumps, 1, 'a is untouched')

  // Re-pointed at nothing: the guess (b) is dropped and nothing is decided on it.
  await other.append(`pointer-${pointerId}`, [newEvent('Pointed', { to: null })], { expected: 1 })
  const none = await execute(store, bumpTarget, { pointerId }, meta())
  t.same(none.appended, [], 'nothing appended')
  t.notOk('target' in none.state, 'no state for the dropped guess')
  t.equal((await fold(other, counter, b)).state.bumps, 11, 'b is untouched')

  // A cached state on which `related` throws is no guess: the command goes on from the fresh state.
  await other.append(`pointer-${pointerId}`, [newEvent('Pointed', { to: 'nowhere' })], { expected: 2 })
  await t.rejects(execute(store, bumpTarget, { pointerId }, meta()), /points nowhere/, 'pointing nowhere fails the command')
  await other.append(`pointer-${pointerId}`, [newEvent('Pointed', { to: b })], { expected: 3 })
  const after = await execute(store, bumpTarget, { pointerId }, meta())
  t.same(after.appended.map((x) => x.stream), [`counter-${b}`], 'the cache said nowhere: b is bumped all the same')
})
