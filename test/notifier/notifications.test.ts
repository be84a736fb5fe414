import { randomUUID } from 'node:crypto'
import t from 'tap'
import { MemoryEventStore } from '../../src/adapters/event-store/memory.ts'
import { createWallet } from '../../src/commands/create-wallet.ts'
import { execute, type Decider } from '../../src/commands/handler.ts'
import { recordMintOutcome } from '../../src/commands/record-mint-outcome.ts'
import { recordWalletOutcome } from '../../src/commands/record-wallet-outcome.ts'
import { requestMint } from '../../src/commands/request-mint.ts'
import type { RecordedEvent } from '../../src/events/event-store.ts'
import { wallet } from '../../src/events/wallet.ts'
import { NOTIFYING_STREAM_PREFIXES, NotificationMapper, SILENT_WALLET_EVENTS } from '../../src/notifier/notifications.ts'
import { meta } from '../helpers/commands.ts'
import { countingReads, testMetadata } from '../helpers/events.ts'

async function history() {
  const store = new MemoryEventStore()
  const run = <C>(decider: Decider<C, any>, command: C) => execute(store, decider, command, meta({ commandId: randomUUID() }))
  const walletId = randomUUID()
  const mintIds = [randomUUID(), randomUUID()]
  await run(createWallet, { walletId, ownerId: 'o' })
  await run(recordWalletOutcome, { walletId, outcome: { type: 'created', circleWalletId: 'cw' } })
  for (const mintId of mintIds) await run(requestMint, { mintId, walletId, amount: 2_500_000n })
  for (const mintId of mintIds) {
    await run(recordMintOutcome, { mintId, outcome: { type: 'treasury_checked', treasuryAvailable: 10_000_000n } })
    await run(recordMintOutcome, { mintId, outcome: { type: 'submitted', circleTransferId: `ct-${mintId}` } })
    await run(recordMintOutcome, { mintId, outcome: { type: 'completed', circleTransferId: `ct-${mintId}` } })
  }
  const events = (await store.readAll({ filter: { streamPrefixes: NOTIFYING_STREAM_PREFIXES } })).events
  return { store, events }
}

/** One entry per event: its notification in short, or null. */
const perEvent = async (mapper: NotificationMapper, events: RecordedEvent[]) => {
  const out: (string | null)[] = []
  for (const e of events) {
    const n = await mapper.map(e)
    out.push(n ? `${n.resource}:${n.previousStatus ?? '-'}->${n.status}` : null)
  }
  return out
}
const summary = async (mapper: NotificationMapper, events: RecordedEvent[]) => (await perEvent(mapper, events)).filter((x) => x !== null)

const expected = [
  'wallet:-->pending',
  'wallet:pending->active',
  'mint:-->pending',
  'mint:-->pending',
  'mint:pending->processing',
  'mint:processing->completed',
  'mint:pending->processing',
  'mint:processing->completed',
]

t.test('only status changes become notifications, each with the status before it', async (t) => {
  const { store, events } = await history()
  t.same(await summary(new NotificationMapper(store), events), expected, 'MintTreasuryChecked and FundsCredited publish nothing')
})

t.test('with the remembered states evicted, the previous status comes from folding the stream up to the event', async (t) => {
  const { store, events } = await history()
  t.same(await summary(new NotificationMapper(store, 1), events), expected)
})

t.test('a redelivered batch maps to the same notifications (the state is refolded, not taken from later events)', async (t) => {
  const { store, events } = await history()
  const mapper = new NotificationMapper(store)
  const first = await perEvent(mapper, events)
  t.same(await perEvent(mapper, events.slice(3)), first.slice(3), 'the same notifications for the same events')
  const again = await mapper.map(events.findLast((e) => e.type === 'FundsCredited')!)
  t.equal(again, undefined, 'a FundsCredited event maps to nothing, also when redelivered')
  const completed = events.findLast((e) => e.type === 'MintCompleted')!
  const n = await mapper.map(completed)
  t.equal(n?.previousStatus, 'processing')
  t.equal(n?.amount, '2.50')
  t.equal(n?.eventId, completed.id)
})

t.test('a reconciliation run publishes its outcome once it completes', async (t) => {
  const store = new MemoryEventStore()
  const mapper = new NotificationMapper(store)
  const runId = randomUUID()
  const ev = (type: string, data: Record<string, string | number | Record<string, number>>) => ({ id: randomUUID(), type, data, metadata: { correlationId: runId, causationId: runId, actor: 'reconciliation', occurredAt: new Date().toISOString() } })
  await store.append(`reconciliation-${runId}`, [ev('ReconciliationRunStarted', { runId, trigger: 'cli', startedAt: new Date().toISOString() })], { expected: 'no_stream' })
  await store.append(`reconciliation-${runId}`, [ev('ReconciliationRunCompleted', { runId, outcome: 'mismatches', findings: 2, counts: { balance_mismatch: 2 }, checked: { wallets: 3 } })], { expected: 0 })
  const events = (await store.readAll({ filter: { streamPrefixes: NOTIFYING_STREAM_PREFIXES } })).events
  t.equal(events.length, 2, 'the notifier follows reconciliation streams')
  t.equal(await mapper.map(events[0]!), undefined, 'a run starting is no outcome yet')
  t.match(await mapper.map(events[1]!), { resource: 'reconciliation', id: runId, status: 'mismatches', walletId: null, failure: null })
})

t.test('a funds movement on a wallet never notifies, and needs no fold of the wallet to know it', async (t) => {
  const store = new MemoryEventStore()
  const run = <C>(decider: Decider<C, any>, command: C) => execute(store, decider, command, meta({ commandId: randomUUID() }))
  const walletId = randomUUID()
  await run(createWallet, { walletId, ownerId: 'o' })
  await run(recordWalletOutcome, { walletId, outcome: { type: 'created', circleWalletId: 'cw' } })
  const stream = `wallet-${walletId}`
  const event = (type: string, data: Record<string, unknown>) => ({ id: randomUUID(), type, data: { walletId, ...data }, metadata: testMetadata() })
  const funds = [event('FundsCredited', { operationId: randomUUID(), amount: '5000', source: 'mint' })]
  for (let i = 0; i < 1500; i++) {
    const operationId = randomUUID()
    funds.push(event('FundsReserved', { operationId, amount: '1' }), event(i % 2 ? 'FundsDebited' : 'ReservationReleased', { operationId, amount: '1' }))
  }
  const deadLetterId = randomUUID()
  funds.push(event('OperationNeedsAttention', { attention: 'stuck', deadLetterId, error: 'e' }), event('OperationAttentionCleared', { deadLetterId, resolution: 'discarded' }))
  await store.append(stream, funds, { expected: 1 })
  const addressId = randomUUID()
  await store.append(stream, [event('DepositAddressRequested', { addressId, chain: 'SOL' })], { expected: 1 + funds.length })
  const recorded = await store.readStream(stream)

  const { store: counting, reads } = countingReads(store)
  // A new process: nothing remembered, the first events it sees are funds movements deep in the stream.
  const mapper = new NotificationMapper(counting)
  for (const e of recorded.filter((e) => SILENT_WALLET_EVENTS.has(e.type as never)).slice(-5)) t.equal(await mapper.map(e), undefined, `${e.type} maps to nothing`)
  t.same(reads, [], 'without reading the wallet')
  const address = await mapper.map(recorded.at(-1)!)
  t.match(address, { resource: 'address', id: addressId, status: 'pending', previousStatus: null }, 'the next address change still notifies')
  t.ok(reads.reduce((a, r) => a + r.got, 0) >= recorded.length - 1, 'folding the wallet for it')

  // Every silent type, from every kind of wallet state, leaves what the wallet's notifications look at unchanged.
  const types = new Set(recorded.map((e) => e.type))
  t.same([...SILENT_WALLET_EVENTS].filter((type) => !types.has(type)), [], 'every silent type is in this history')
  let state = wallet.initialState
  for (const e of recorded) {
    const after = wallet.evolve(state, e as never)
    if (SILENT_WALLET_EVENTS.has(e.type as never)) {
      if (after.status !== state.status || JSON.stringify(after.addresses) !== JSON.stringify(state.addresses)) t.fail(`${e.type} changed the status or an address`)
    }
    state = after
  }
  t.equal(state.status, 'active')
})
