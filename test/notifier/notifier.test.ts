import { randomUUID } from 'node:crypto'
import pino from 'pino'
import t, { type Test } from 'tap'
import { PostgresEventStore } from '../../src/adapters/event-store/postgres.ts'
import { notificationSchema, type Notification } from '../../src/adapters/nats/notification.ts'
import { closeCard } from '../../src/commands/close-card.ts'
import { createWallet } from '../../src/commands/create-wallet.ts'
import { freezeCard } from '../../src/commands/freeze-card.ts'
import { execute, type Decider } from '../../src/commands/handler.ts'
import { issueCard } from '../../src/commands/issue-card.ts'
import { linkBankAccount } from '../../src/commands/link-bank-account.ts'
import { recordAddressOutcome } from '../../src/commands/record-address-outcome.ts'
import { recordBankAccountOutcome } from '../../src/commands/record-bank-account-outcome.ts'
import { recordCardOutcome } from '../../src/commands/record-card-outcome.ts'
import { recordDeposit } from '../../src/commands/record-deposit.ts'
import { recordMintOutcome } from '../../src/commands/record-mint-outcome.ts'
import { recordRedeemOutcome } from '../../src/commands/record-redeem-outcome.ts'
import { recordTransferOutcome } from '../../src/commands/record-transfer-outcome.ts'
import { recordWalletOutcome } from '../../src/commands/record-wallet-outcome.ts'
import { requestDepositAddress } from '../../src/commands/request-deposit-address.ts'
import { requestMint } from '../../src/commands/request-mint.ts'
import { requestRedeem } from '../../src/commands/request-redeem.ts'
import { requestTransfer } from '../../src/commands/request-transfer.ts'
import { unfreezeCard } from '../../src/commands/unfreeze-card.ts'
import { Notifier } from '../../src/notifier/notifier.ts'
import { readCheckpoint } from '../../src/subscriptions/checkpoints.ts'
import { meta } from '../helpers/commands.ts'
import { testDatabase } from '../helpers/database.ts'
import { machineNats, streamMessages, testStream } from '../helpers/nats.ts'

const logger = pino({ level: 'silent' })

async function setup(t: Test) {
  const { db, pool } = await testDatabase(t)
  const store = new PostgresEventStore(pool, { pollIntervalMs: 50 })
  t.teardown(() => store.close())
  const stream = testStream(t)
  const run = <C>(decider: Decider<C, any>, command: C) => execute(store, decider, command, meta({ commandId: randomUUID() }))
  const notifier = (name = 'notifier') => {
    const n = new Notifier({ store, db, logger, servers: machineNats, stream, name, retry: { firstMs: 50, maxMs: 500 } })
    t.teardown(() => n.stop())
    return n
  }
  return { db, pool, store, stream, run, notifier }
}

t.test('a sequence of operations publishes exactly the expected notifications, on the expected subjects, in order', async (t) => {
  const { store, stream, run, notifier, db } = await setup(t)
  const [w1, w2, addr, bank, m1, m2, r1, t1, t2, card] = Array.from({ length: 10 }, () => randomUUID())
  const failure = { code: 'insufficient_treasury_balance', message: 'the treasury holds less than 5.00' }

  await run(createWallet, { walletId: w1!, ownerId: 'owner-1' })
  await run(recordWalletOutcome, { walletId: w1!, outcome: { type: 'created', circleWalletId: 'cw-1' } })
  await run(createWallet, { walletId: w2!, ownerId: 'owner-2' })
  await run(recordWalletOutcome, { walletId: w2!, outcome: { type: 'created', circleWalletId: 'cw-2' } })
  await run(requestDepositAddress, { walletId: w1!, addressId: addr!, chain: 'ETH' })
  await run(recordAddressOutcome, { walletId: w1!, addressId: addr!, outcome: { type: 'created', address: '0xabc' } })
  await run(linkBankAccount, { bankAccountId: bank!, ownerId: 'owner-1', accountType: 'us', last4: '6789', holderName: 'Ada', country: 'US' })
  await run(recordBankAccountOutcome, { bankAccountId: bank!, outcome: { type: 'submitted', circleWireId: 'wire-1' } })
  await run(recordBankAccountOutcome, { bankAccountId: bank!, outcome: { type: 'linked', circleWireId: 'wire-1' } })
  await run(requestMint, { mintId: m1!, walletId: w1!, amount: 100_000_000n })
  await run(recordMintOutcome, { mintId: m1!, outcome: { type: 'treasury_checked', treasuryAvailable: 500_000_000n } })
  await run(recordMintOutcome, { mintId: m1!, outcome: { type: 'submitted', circleTransferId: 'ct-m1' } })
  await run(recordMintOutcome, { mintId: m1!, outcome: { type: 'completed', circleTransferId: 'ct-m1' } })
  await run(requestMint, { mintId: m2!, walletId: w1!, amount: 5_000_000n })
  await run(recordMintOutcome, { mintId: m2!, outcome: { type: 'failed', failure } })
  await run(requestRedeem, { redeemId: r1!, walletId: w1!, bankAccountId: bank!, amount: 30_000_000n })
  await run(recordRedeemOutcome, { redeemId: r1!, outcome: { type: 'transfer_submitted', circleTransferId: 'ct-r1' } })
  await run(recordRedeemOutcome, { redeemId: r1!, outcome: { type: 'transfer_completed', circleTransferId: 'ct-r1' } })
  await run(recordRedeemOutcome, { redeemId: r1!, outcome: { type: 'payout_submitted', circlePayoutId: 'po-r1' } })
  await run(recordRedeemOutcome, { redeemId: r1!, outcome: { type: 'payout_completed', circlePayoutId: 'po-r1' } })
  await run(requestTransfer, { transferId: t1!, sourceWalletId: w1!, destination: { type: 'blockchain', chain: 'ETH', address: '0x' + 'de'.repeat(20) }, amount: 20_000_000n })
  await run(recordTransferOutcome, { transferId: t1!, outcome: { type: 'submitted', circleTransferId: 'ct-t1' } })
  await run(recordTransferOutcome, { transferId: t1!, outcome: { type: 'completed', circleTransferId: 'ct-t1', txHash: '0xhash1' } })
  await run(requestTransfer, { transferId: t2!, sourceWalletId: w1!, destination: { type: 'wallet', walletId: w2! }, amount: 10_000_000n })
  await run(recordTransferOutcome, { transferId: t2!, outcome: { type: 'failed', failure: { code: 'transfer_failed', message: 'refused' } } })
  await run(recordDeposit, { circleTransferId: 'ct-dep-1', walletId: w1!, amount: 1_500_000n, chain: 'ETH', txHash: '0xhash2' })
  await run(issueCard, { cardId: card!, walletId: w1!, cardholderName: 'Ada' })
  await run(recordCardOutcome, { cardId: card!, outcome: { type: 'issued', issuerCardId: 'ic-1', last4: '4242', expMonth: 12, expYear: 2030, network: 'VISA' } })
  await run(freezeCard, { cardId: card! })
  await run(unfreezeCard, { cardId: card! })
  await run(closeCard, { cardId: card! })

  const n = notifier()
  n.start()
  const head = (await store.head())!
  await n.caughtUp(head, 30_000)
  t.equal(await readCheckpoint(db, 'notifier'), head, 'the checkpoint reached the head once every PubAck arrived')

  const p = stream.subjectPrefix
  const expected: [string, Partial<Notification>][] = [
    [`${p}.wallet.pending.${w1}`, { resource: 'wallet', id: w1!, ownerId: 'owner-1', previousStatus: null, circleId: null }],
    [`${p}.wallet.active.${w1}`, { resource: 'wallet', id: w1!, previousStatus: 'pending', circleId: 'cw-1' }],
    [`${p}.wallet.pending.${w2}`, { resource: 'wallet', id: w2!, ownerId: 'owner-2' }],
    [`${p}.wallet.active.${w2}`, { resource: 'wallet', id: w2!, circleId: 'cw-2' }],
    [`${p}.address.pending.${w1}`, { resource: 'address', id: addr!, walletId: w1!, previousStatus: null }],
    [`${p}.address.active.${w1}`, { resource: 'address', id: addr!, previousStatus: 'pending' }],
    [`${p}.bank_account.pending.none`, { resource: 'bank_account', id: bank!, walletId: null, ownerId: 'owner-1', previousStatus: null }],
    [`${p}.bank_account.active.none`, { resource: 'bank_account', id: bank!, previousStatus: 'pending', circleId: 'wire-1' }],
    [`${p}.mint.pending.${w1}`, { resource: 'mint', id: m1!, amount: '100.00', currency: 'USD', previousStatus: null }],
    [`${p}.mint.processing.${w1}`, { resource: 'mint', id: m1!, previousStatus: 'pending', circleId: 'ct-m1' }],
    [`${p}.mint.completed.${w1}`, { resource: 'mint', id: m1!, previousStatus: 'processing', amount: '100.00', failure: null }],
    [`${p}.mint.pending.${w1}`, { resource: 'mint', id: m2!, amount: '5.00' }],
    [`${p}.mint.failed.${w1}`, { resource: 'mint', id: m2!, previousStatus: 'pending', failure }],
    [`${p}.redeem.pending.${w1}`, { resource: 'redeem', id: r1!, amount: '30.00' }],
    [`${p}.redeem.processing.${w1}`, { resource: 'redeem', id: r1!, previousStatus: 'pending', circleId: 'ct-r1' }],
    [`${p}.redeem.completed.${w1}`, { resource: 'redeem', id: r1!, previousStatus: 'processing', circleId: 'po-r1' }],
    [`${p}.transfer.pending.${w1}`, { resource: 'transfer', id: t1!, amount: '20.00', txHash: null }],
    [`${p}.transfer.processing.${w1}`, { resource: 'transfer', id: t1!, circleId: 'ct-t1' }],
    [`${p}.transfer.completed.${w1}`, { resource: 'transfer', id: t1!, txHash: '0xhash1' }],
    [`${p}.transfer.pending.${w1}`, { resource: 'transfer', id: t2! }],
    [`${p}.transfer.failed.${w1}`, { resource: 'transfer', id: t2!, previousStatus: 'pending', failure: { code: 'transfer_failed', message: 'refused' } }],
    [`${p}.deposit.completed.${w1}`, { resource: 'deposit', id: 'ct-dep-1', previousStatus: null, amount: '1.50', circleId: 'ct-dep-1', txHash: '0xhash2' }],
    [`${p}.card.pending.${w1}`, { resource: 'card', id: card! }],
    [`${p}.card.active.${w1}`, { resource: 'card', id: card!, previousStatus: 'pending' }],
    [`${p}.card.frozen.${w1}`, { resource: 'card', id: card!, previousStatus: 'active' }],
    [`${p}.card.active.${w1}`, { resource: 'card', id: card!, previousStatus: 'frozen' }],
    [`${p}.card.closed.${w1}`, { resource: 'card', id: card!, previousStatus: 'active' }],
  ]
  const messages = await streamMessages(machineNats, stream.name)
  t.same(
    messages.map((m) => m.subject),
    expected.map(([s]) => s),
    'exactly the expected subjects, in event order',
  )
  const events = new Map((await store.readAll({ maxCount: 10_000 })).events.map((e) => [e.id, e]))
  const keys = Object.keys(notificationSchema.shape).sort()
  messages.forEach((m, i) => {
    const [, fields] = expected[i]!
    const body = notificationSchema.parse(m.data)
    t.match(body, fields, `message ${i} (${m.subject}) carries the expected fields`)
    t.same(Object.keys(m.data).sort(), keys, `message ${i} has exactly the schema's fields`)
    t.equal(m.msgId, body.eventId, `message ${i}: Nats-Msg-Id is the event id`)
    const event = events.get(body.eventId)
    t.ok(event, `message ${i}: its event exists`)
    t.equal(body.position, event?.position, `message ${i}: position is the event's`)
    t.equal(body.occurredAt, event?.metadata.occurredAt)
  })
  const all = JSON.stringify(messages.map((m) => m.data))
  t.notMatch(all, /last4|accountNumber|"4242"|"6789"/, 'no card or account digits are published')
})

t.test('the stream is created with file storage, the configured limits, and left alone when it already matches', async (t) => {
  const { stream, notifier, store } = await setup(t)
  const n = notifier()
  n.start()
  await (store.head().then((h) => (h ? n.caughtUp(h) : undefined)))
  const { connect } = await import('@nats-io/transport-node')
  const { jetstreamManager } = await import('@nats-io/jetstream')
  const { ensureLedgerStream } = await import('../../src/adapters/nats/stream.ts')
  const nc = await connect({ servers: machineNats })
  t.teardown(() => nc.close())
  const jsm = await jetstreamManager(nc)
  const deadline = Date.now() + 10_000
  let info = await jsm.streams.info(stream.name).catch(() => undefined)
  while (!info && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100))
    info = await jsm.streams.info(stream.name).catch(() => undefined)
  }
  t.ok(info, 'created at start')
  t.equal(info!.config.storage, 'file')
  t.same(info!.config.subjects, [`${stream.subjectPrefix}.>`])
  t.equal(info!.config.max_age, stream.maxAgeMs * 1_000_000)
  t.equal(info!.config.duplicate_window, stream.duplicateWindowMs * 1_000_000)
  t.equal((await ensureLedgerStream(jsm, stream)).action, 'unchanged', 'a second start changes nothing')
  const longer = { ...stream, maxAgeMs: 2 * stream.maxAgeMs, duplicateWindowMs: 2 * stream.duplicateWindowMs }
  t.equal((await ensureLedgerStream(jsm, longer)).action, 'updated', 'new limits update the stream in place')
  const updated = await jsm.streams.info(stream.name)
  t.equal(updated.config.max_age, longer.maxAgeMs * 1_000_000)
  t.equal(updated.config.duplicate_window, longer.duplicateWindowMs * 1_000_000)
  t.equal((await ensureLedgerStream(jsm, longer)).action, 'unchanged')
})
