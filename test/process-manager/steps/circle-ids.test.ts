import { randomUUID } from 'node:crypto'
import t from 'tap'
import { MemoryEventStore } from '../../../src/adapters/event-store/memory.ts'
import type { EventStore, ReadStreamOptions } from '../../../src/events/event-store.ts'
import { wallet } from '../../../src/events/wallet.ts'
import type { StepContext } from '../../../src/process-manager/context.ts'
import { CIRCLE_WALLET_IDS_KEPT, circleWalletOf } from '../../../src/process-manager/steps/circle-ids.ts'
import { newEvent } from '../../helpers/events.ts'

/** A store that counts its readStream calls and the events they hand out. */
function counting(store: MemoryEventStore) {
  const counter = { events: 0, reads: 0 }
  const readStream = store.readStream.bind(store)
  store.readStream = async (stream: string, options?: ReadStreamOptions) => {
    const events = await readStream(stream, options)
    counter.reads++
    counter.events += events.length
    return events
  }
  return { store: store as EventStore, counter }
}

const ctx = (store: EventStore) => ({ store }) as StepContext

t.test("a wallet's Circle id costs a read of the stream's head, however long its history", async (t) => {
  const memory = new MemoryEventStore()
  const walletId = randomUUID()
  const stream = wallet.streamName(walletId)
  await memory.append(stream, [newEvent('WalletCreationRequested', { walletId, ownerId: 'o' }), newEvent('WalletCreated', { walletId, circleWalletId: '1000000042' })], { expected: 'no_stream' })
  const history = Array.from({ length: 5_000 }, (_, i) => newEvent('FundsCredited', { walletId, operationId: randomUUID(), amount: '1', source: 'mint', i }))
  await memory.append(stream, history, { expected: 1 })
  const { store, counter } = counting(memory)
  t.equal(await circleWalletOf(ctx(store), walletId), '1000000042')
  t.ok(counter.events <= 16, `read ${counter.events} of 5,002 events`)
})

t.test('a wallet that is pending, failed or unknown has no Circle id: the step fails', async (t) => {
  const store = new MemoryEventStore()
  const pending = randomUUID()
  await store.append(wallet.streamName(pending), [newEvent('WalletCreationRequested', { walletId: pending, ownerId: 'o' })], { expected: 'no_stream' })
  await t.rejects(circleWalletOf(ctx(store), pending), /is pending/)
  const failed = randomUUID()
  await store.append(
    wallet.streamName(failed),
    [newEvent('WalletCreationRequested', { walletId: failed, ownerId: 'o' }), newEvent('WalletCreationFailed', { walletId: failed, failure: { code: 'circle_rejected', message: 'no' } })],
    { expected: 'no_stream' },
  )
  await t.rejects(circleWalletOf(ctx(store), failed), /is failed/)
  await t.rejects(circleWalletOf(ctx(store), randomUUID()), /is none/)
})

t.test('the outcome is found past the first page (many events before it)', async (t) => {
  const store = new MemoryEventStore()
  const walletId = randomUUID()
  const early = Array.from({ length: 40 }, () => newEvent('DepositAddressRequested', { walletId, addressId: randomUUID(), chain: 'SOL' }))
  await store.append(
    wallet.streamName(walletId),
    [newEvent('WalletCreationRequested', { walletId, ownerId: 'o' }), ...early, newEvent('WalletCreated', { walletId, circleWalletId: '1000000043' })],
    { expected: 'no_stream' },
  )
  t.equal(await circleWalletOf(ctx(store), walletId), '1000000043')
})

async function activeWallet(store: EventStore, circleWalletId: string, walletId: string = randomUUID()): Promise<string> {
  await store.append(wallet.streamName(walletId), [newEvent('WalletCreationRequested', { walletId, ownerId: 'o' }), newEvent('WalletCreated', { walletId, circleWalletId })], { expected: 'no_stream' })
  return walletId
}

t.test("an active wallet's Circle id is read once per store, then remembered", async (t) => {
  const { store, counter } = counting(new MemoryEventStore())
  const walletId = await activeWallet(store, '1000000044')
  t.equal(await circleWalletOf(ctx(store), walletId), '1000000044')
  const reads = counter.reads
  t.equal(await circleWalletOf(ctx(store), walletId), '1000000044')
  t.equal(counter.reads, reads, 'the second lookup reads nothing')

  // Another store (another database) has its own wallets: nothing remembered for one answers for the other.
  const other = counting(new MemoryEventStore())
  await activeWallet(other.store, '1000000045', walletId)
  t.equal(await circleWalletOf(ctx(other.store), walletId), '1000000045')
  t.equal(other.counter.reads, 1)
})

t.test('a pending wallet is not remembered: once active, its id is found', async (t) => {
  const store = new MemoryEventStore()
  const walletId = randomUUID()
  const stream = wallet.streamName(walletId)
  await store.append(stream, [newEvent('WalletCreationRequested', { walletId, ownerId: 'o' })], { expected: 'no_stream' })
  await t.rejects(circleWalletOf(ctx(store), walletId), /is pending/)
  await store.append(stream, [newEvent('WalletCreated', { walletId, circleWalletId: '1000000046' })], { expected: 0 })
  t.equal(await circleWalletOf(ctx(store), walletId), '1000000046')
})

t.test(`at most ${CIRCLE_WALLET_IDS_KEPT} ids are kept, the least recently used goes first`, async (t) => {
  const { store, counter } = counting(new MemoryEventStore())
  const first = await activeWallet(store, 'c-first')
  const second = await activeWallet(store, 'c-second')
  await circleWalletOf(ctx(store), first)
  await circleWalletOf(ctx(store), second)
  await circleWalletOf(ctx(store), first) // first is now the most recently used
  for (let i = 0; i < CIRCLE_WALLET_IDS_KEPT - 1; i++) await circleWalletOf(ctx(store), await activeWallet(store, `c-${i}`))
  const reads = counter.reads
  t.equal(await circleWalletOf(ctx(store), first), 'c-first')
  t.equal(counter.reads, reads, 'the recently used one is still remembered')
  t.equal(await circleWalletOf(ctx(store), second), 'c-second')
  t.equal(counter.reads, reads + 1, 'the least recently used one was let go and is read again')
})
