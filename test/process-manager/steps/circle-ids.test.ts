import { randomUUID } from 'node:crypto'
import t from 'tap'
import { MemoryEventStore } from '../../../src/adapters/event-store/memory.ts'
import type { EventStore, ReadStreamOptions } from '../../../src/events/event-store.ts'
import { wallet } from '../../../src/events/wallet.ts'
import type { StepContext } from '../../../src/process-manager/context.ts'
import { circleWalletOf } from '../../../src/process-manager/steps/circle-ids.ts'
import { newEvent } from '../../helpers/events.ts'

/** A store that counts the events its readStream hands out. */
function counting(store: MemoryEventStore) {
  const counter = { events: 0 }
  const readStream = store.readStream.bind(store)
  store.readStream = async (stream: string, options?: ReadStreamOptions) => {
    const events = await readStream(stream, options)
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
