import { randomUUID } from 'node:crypto'
import { sql } from 'kysely'
import pino from 'pino'
import t, { type Test } from 'tap'
import { PostgresEventStore } from '../../src/adapters/event-store/postgres.ts'
import type { Db } from '../../src/adapters/postgres/database.ts'
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
import { DependencyDegraded } from '../../src/http/routes/health.ts'
import { Metrics } from '../../src/metrics.ts'
import { Notifier, nextWave } from '../../src/notifier/notifier.ts'
import type { JetStreamClient } from '@nats-io/jetstream'
import { readCheckpoint } from '../../src/subscriptions/checkpoints.ts'
import { meta } from '../helpers/commands.ts'
import { testDatabase } from '../helpers/database.ts'
import { newEvent } from '../helpers/events.ts'
import { httpHarness } from '../helpers/http.ts'
import { eventually, machineNats, ownNatsServer, slowProxy, streamMessages, testStream } from '../helpers/nats.ts'

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
  await run(freezeCard, { cardId: card!, issuer: 'confirmed' })
  await run(unfreezeCard, { cardId: card!, issuer: 'confirmed' })
  await run(closeCard, { cardId: card!, issuer: 'confirmed' })

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

/** Makes every checkpoint write of `name` fail, as if the process died between its PubAcks and storing the checkpoint. */
async function refuseCheckpoint(db: Db, name: string) {
  await sql`CREATE FUNCTION refuse_checkpoint() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'killed before storing the checkpoint'; END $$`.execute(db)
  await sql`CREATE TRIGGER refuse_checkpoint BEFORE INSERT OR UPDATE ON checkpoints FOR EACH ROW WHEN (NEW.name = ${sql.lit(name)}) EXECUTE FUNCTION refuse_checkpoint()`.execute(db)
  return async () => {
    await sql`DROP TRIGGER refuse_checkpoint ON checkpoints`.execute(db)
    await sql`DROP FUNCTION refuse_checkpoint()`.execute(db)
  }
}

async function mints(run: Awaited<ReturnType<typeof setup>>['run'], walletId: string, n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    const mintId = randomUUID()
    await run(requestMint, { mintId, walletId, amount: 1_000_000n })
    await run(recordMintOutcome, { mintId, outcome: { type: 'submitted', circleTransferId: `ct-${mintId}` } })
    await run(recordMintOutcome, { mintId, outcome: { type: 'completed', circleTransferId: `ct-${mintId}` } })
  }
}

t.test('restart: killed after publishing but before storing its checkpoint, the notifier republishes and JetStream keeps one message per event', async (t) => {
  const { store, stream, run, notifier, db } = await setup(t)
  const walletId = randomUUID()
  await run(createWallet, { walletId, ownerId: 'owner-1' })
  await run(recordWalletOutcome, { walletId, outcome: { type: 'created', circleWalletId: 'cw-1' } })
  await mints(run, walletId, 20)
  const expected = 2 + 20 * 3
  const allow = await refuseCheckpoint(db, 'notifier')

  const first = notifier()
  first.start()
  await eventually(() => streamMessages(machineNats, stream.name).catch(() => []), (m) => m.length === expected)
  t.equal(await readCheckpoint(db, 'notifier'), undefined, 'every message is published and acknowledged, the checkpoint is not stored')
  await first.stop()
  await allow()

  const second = notifier()
  second.start()
  await second.caughtUp((await store.head())!, 30_000)
  t.equal(second.counts.published, expected, 'the restarted notifier republished every notification')
  t.equal(second.counts.duplicates, expected, 'JetStream recognised every one as a duplicate (Nats-Msg-Id)')
  const messages = await streamMessages(machineNats, stream.name)
  t.equal(messages.length, expected, 'one message per status-change event')
  t.equal(new Set(messages.map((m) => m.msgId)).size, expected)
})

t.test('a restart after the duplicate window has passed asks the stream instead of publishing twice', async (t) => {
  const { store, stream, run, db } = await setup(t)
  // A window of one second, so the test need not wait two minutes.
  const short = { ...stream, duplicateWindowMs: 1000 }
  const make = () => {
    const n = new Notifier({ store, db, logger, servers: machineNats, stream: short, retry: { firstMs: 50, maxMs: 500 } })
    t.teardown(() => n.stop())
    return n
  }
  const walletId = randomUUID()
  await run(createWallet, { walletId, ownerId: 'owner-1' })
  await run(recordWalletOutcome, { walletId, outcome: { type: 'created', circleWalletId: 'cw-1' } })
  await mints(run, walletId, 5)
  const expected = 2 + 5 * 3
  const allow = await refuseCheckpoint(db, 'notifier')
  const first = make()
  first.start()
  await eventually(() => streamMessages(machineNats, stream.name).catch(() => []), (m) => m.length === expected)
  await first.stop()
  await allow()
  await new Promise((r) => setTimeout(r, 1500))

  // One more change after the restart: it must be published, the old ones must not be repeated.
  const extra = randomUUID()
  const second = make()
  second.start()
  await run(requestMint, { mintId: extra, walletId, amount: 2_000_000n })
  await second.caughtUp((await store.head())!, 30_000)
  const messages = await streamMessages(machineNats, stream.name)
  t.equal(messages.length, expected + 1, 'the old notifications are not published a second time, the new one is')
  t.equal(new Set(messages.map((m) => m.msgId)).size, expected + 1)
  t.equal(messages.at(-1)!.data.id, extra)
})

t.test('outage: NATS cut while 200 operations complete; HTTP keeps serving, health is degraded, the lag grows, and after recovery the stream holds exactly one message per status change, in order', async (t) => {
  const server = await ownNatsServer(t)
  const metrics = new Metrics()
  let notifier: Notifier | undefined
  const h = await httpHarness(t, {
    metrics,
    health: {
      database: async () => undefined,
      nats: async () => {
        const s = notifier!.health()
        if (s.status === 'degraded') throw new DependencyDegraded(s.reason)
      },
    },
  })
  const stream = { ...testStream(t, server.url) }
  notifier = new Notifier({ store: h.store, db: h.db, logger, servers: server.url, stream, publishTimeoutMs: 1000, retry: { firstMs: 50, maxMs: 1000 } })
  t.teardown(() => notifier!.stop())
  metrics.trackLag('notifier', () => notifier!.lag())
  const lag = async () => Number(/subscriber_lag_events\{subscriber="notifier"\} (\d+)/.exec(await metrics.registry.metrics())?.[1] ?? NaN)
  notifier.start()

  const walletId = await h.activeWallet('owner-1')
  await notifier.caughtUp((await h.store.head())!, 30_000)
  t.equal(notifier.health().status, 'ok')
  t.equal(await lag(), 0)

  const mintIds: string[] = []
  let lagAtCut = NaN
  for (let i = 0; i < 200; i++) {
    if (i === 20) {
      await server.stop()
      await eventually(async () => notifier!.health().status, (s) => s === 'degraded', 10_000)
      lagAtCut = await lag()
      const health = await h.get('/health')
      t.equal(health.statusCode, 200, 'health answers 200 while NATS is down')
      t.equal(health.json().checks.nats.status, 'degraded', 'and names NATS as degraded')
    }
    const res = await h.post('/mint', { walletId, amount: '1.00' })
    t.equal(res.statusCode, 202, `mint ${i} accepted`)
    const mintId = res.json().id as string
    mintIds.push(mintId)
    await execute(h.store, recordMintOutcome, { mintId, outcome: { type: 'submitted', circleTransferId: `ct-${i}` } }, meta({ actor: 'process-manager' }))
    await execute(h.store, recordMintOutcome, { mintId, outcome: { type: 'completed', circleTransferId: `ct-${i}` } }, meta({ actor: 'process-manager' }))
  }
  const lagAfter = await lag()
  t.ok(lagAfter > lagAtCut && lagAfter >= 180 * 3, `the lag grew while NATS was down (${lagAtCut} -> ${lagAfter})`)
  await h.settle()
  t.equal((await h.get(`/mints/${mintIds.at(-1)}`)).json().status, 'completed', 'reads keep working')

  await server.start()
  const head = (await h.store.head())!
  await notifier.caughtUp(head, 60_000)
  t.equal(notifier.health().status, 'ok', 'healthy again after reconnecting')
  t.equal(await lag(), 0)

  const events = (await h.store.readAll({ maxCount: 100_000 })).events
  const statusChanges = events.filter((e) => ['WalletCreationRequested', 'WalletCreated', 'MintRequested', 'MintSubmitted', 'MintCompleted'].includes(e.type))
  t.equal(statusChanges.length, 2 + 200 * 3)
  const messages = await streamMessages(server.url, stream.name)
  t.equal(messages.length, statusChanges.length, 'exactly one message per status-change event')
  t.same(new Set(messages.map((m) => m.msgId)), new Set(statusChanges.map((e) => e.id)), 'none missing, none extra')
  const perMint = new Map<string, string[]>()
  for (const m of messages) if (m.data.resource === 'mint') perMint.set(m.data.id as string, [...(perMint.get(m.data.id as string) ?? []), m.data.status as string])
  t.equal(perMint.size, 200)
  t.ok([...perMint.values()].every((s) => s.join() === 'pending,processing,completed'), 'each mint: pending, processing, completed, in that order')
  t.same(
    messages.map((m) => m.data.position),
    [...messages.map((m) => m.data.position as string)].sort((a, b) => Number(a) - Number(b)),
    'the stream is in event order',
  )
})

t.test('slow NATS: PubAcks arriving after the timeout degrade health and hold the checkpoint; once NATS is quick again every notification is there once', async (t) => {
  const { store, stream, run, db } = await setup(t)
  const proxy = await slowProxy(t, machineNats)
  const n = new Notifier({ store, db, logger, servers: proxy.url, stream, publishTimeoutMs: 300, retry: { firstMs: 50, maxMs: 300 } })
  t.teardown(() => n.stop())
  const walletId = randomUUID()
  await run(createWallet, { walletId, ownerId: 'owner-1' })
  await run(recordWalletOutcome, { walletId, outcome: { type: 'created', circleWalletId: 'cw-1' } })
  n.start()
  await n.caughtUp((await store.head())!, 30_000)
  t.same(n.health(), { status: 'ok' })

  proxy.delayMs = 1000
  await mints(run, walletId, 10)
  await eventually(async () => n.health(), (h) => h.status === 'degraded', 10_000)
  t.match(n.health(), { status: 'degraded', reason: /publishing to NATS fails/ }, 'health names the failing publishes')
  t.ok((await n.lag())! >= 30, 'the checkpoint waits for the PubAcks')

  proxy.delayMs = 0
  await n.caughtUp((await store.head())!, 60_000)
  await eventually(async () => n.health().status, (s) => s === 'ok', 10_000)
  const messages = await streamMessages(machineNats, stream.name)
  t.equal(messages.length, 2 + 10 * 3, 'one message per status change despite the repeated publishes')
  t.equal(new Set(messages.map((m) => m.msgId)).size, messages.length)
  t.ok(n.counts.retries > 0 && n.counts.duplicates > 0, `retried (${n.counts.retries}) and JetStream dropped the repeats (${n.counts.duplicates})`)
})

t.test('publishes are pipelined: notes of distinct resources are all on the wire before the first PubAck comes back', async (t) => {
  const { store, stream, db } = await setup(t)
  const proxy = await slowProxy(t, machineNats)
  const n = new Notifier({ store, db, logger, servers: proxy.url, stream, publishTimeoutMs: 10_000 })
  t.teardown(() => n.stop())
  // Let the connection and stream set-up through quickly, then hold every answer back.
  n.start()
  await eventually(async () => n.health().status, (s) => s === 'ok', 10_000)
  proxy.delayMs = 500
  // 20 new wallets in one commit, so one batch: 20 notifications, each on its own subject (wallet.pending.<wallet>).
  await store.appendMulti(
    Array.from({ length: 20 }, (_, i) => {
      const walletId = randomUUID()
      return { stream: `wallet-${walletId}`, events: [newEvent('WalletCreationRequested', { walletId, ownerId: `owner-${i}` })], expected: 'no_stream' as const }
    }),
  )
  await n.caughtUp((await store.head())!, 30_000)
  const published = (text: string) => text.split(`HPUB ${stream.subjectPrefix}.`).length - 1
  t.equal(published(proxy.sent()), 20, 'each notification published once')
  t.equal(published(proxy.firstAck!.sentBefore), 20, 'all 20 were sent before the first PubAck arrived')
})

t.test('a wave holds the unacknowledged notes up to the first whose resource is already in it', async (t) => {
  const notes = [
    { resource: 'mint', id: 'a', status: 'pending', walletId: 'w' },
    { resource: 'mint', id: 'b', status: 'pending', walletId: 'w' },
    { resource: 'mint', id: 'a', status: 'processing', walletId: 'w' },
    { resource: 'wallet', id: 'a', status: 'active', walletId: 'a' },
    { resource: 'mint', id: 'b', status: 'processing', walletId: 'w' },
  ] as Notification[]
  t.same(nextWave(notes, [false, false, false, false, false]), [0, 1], 'one subject for a and b is fine; a again waits')
  t.same(nextWave(notes, [true, true, false, false, false]), [2, 3, 4], 'a mint and a wallet of the same id are two resources')
  t.same(nextWave(notes, [false, true, false, true, false]), [0], 'a note refused while later ones were stored goes before its resource’s next')
  t.same(nextWave(notes, [true, true, true, true, true]), [])
})

/** Mints A and B of one wallet, each requested then submitted: six notifications, two on each mint subject. */
async function twoMints(run: Awaited<ReturnType<typeof setup>>['run']) {
  const walletId = randomUUID()
  await run(createWallet, { walletId, ownerId: 'owner-1' })
  await run(recordWalletOutcome, { walletId, outcome: { type: 'created', circleWalletId: 'cw-1' } })
  const [a, b] = [randomUUID(), randomUUID()]
  await run(requestMint, { mintId: a, walletId, amount: 1_000_000n })
  await run(requestMint, { mintId: b, walletId, amount: 2_000_000n })
  await run(recordMintOutcome, { mintId: a, outcome: { type: 'submitted', circleTransferId: `ct-${a}` } })
  await run(recordMintOutcome, { mintId: b, outcome: { type: 'submitted', circleTransferId: `ct-${b}` } })
  return { walletId, a, b }
}

/**
 * A notifier whose JetStream refuses, once, the publish of mint `mintId`'s `pending` notification
 * (it never reaches the server), after `afterMs` (a PubAck timeout, say).
 */
function refusingOnce(n: Notifier, mintId: string, afterMs = 0, stored = false) {
  const refused: string[] = []
  const internals = n as unknown as { jetstream(): Promise<JetStreamClient> }
  const connected = internals.jetstream.bind(n)
  internals.jetstream = async () => {
    const js = await connected()
    return new Proxy(js, {
      get(target, key, receiver) {
        if (key !== 'publish') return Reflect.get(target, key, receiver)
        return (subject: string, payload: string, options?: { msgID?: string }) => {
          const note = JSON.parse(payload) as Notification
          if (refused.length === 0 && note.resource === 'mint' && note.id === mintId && note.status === 'pending') {
            refused.push(options?.msgID ?? '')
            // `stored`: the server stores it, but its PubAck never comes back.
            if (stored) void target.publish(subject, payload, options)
            return new Promise((_, reject) => setTimeout(() => reject(new Error('simulated: no PubAck')), afterMs))
          }
          return target.publish(subject, payload, options)
        }
      },
    })
  }
  return refused
}

for (const window of ['within', 'past'] as const) {
  t.test(`a message the server refuses while later ones of its batch are stored: no status of its resource overtakes it, and nothing is lost (${window} the duplicate window)`, async (t) => {
    const { store, db, run } = await setup(t)
    // Past the window, the notifier asks the stream what it holds instead of relying on msg ids.
    const stream = { ...testStream(t), ...(window === 'past' ? { duplicateWindowMs: 1000 } : {}) }
    const { a, b } = await twoMints(run)
    if (window === 'past') await new Promise((resolve) => setTimeout(resolve, 700))
    const n = new Notifier({ store, db, logger, servers: machineNats, stream, retry: { firstMs: 50, maxMs: 200 } })
    t.teardown(() => n.stop())
    // Past the window, the refusal comes once the window has passed for the messages stored beside
    // it: only reading what the batch stored keeps them from being stored twice.
    const refused = refusingOnce(n, a, window === 'past' ? 1200 : 0)
    n.start()
    await n.caughtUp((await store.head())!, 30_000)
    t.equal(refused.length, 1, 'the refusal happened')
    const stored = (await streamMessages(machineNats, stream.name)).map((m) => m.data as Notification)
    t.same(stored.filter((m) => m.resource === 'mint' && m.id === a).map((m) => m.status), ['pending', 'processing'], 'mint A: pending, then processing')
    t.same(stored.filter((m) => m.resource === 'mint' && m.id === b).map((m) => m.status), ['pending', 'processing'], 'mint B: pending, then processing')
    t.equal(stored.length, 6, 'every notification once')
    t.equal(new Set(stored.map((m) => m.eventId)).size, 6)
  })
}

t.test('a message stored whose PubAck was lost, past the duplicate window, is found by its msg id and not stored twice', async (t) => {
  const { store, db, run } = await setup(t)
  const stream = { ...testStream(t), duplicateWindowMs: 1000 }
  const { a } = await twoMints(run)
  await new Promise((resolve) => setTimeout(resolve, 700))
  const n = new Notifier({ store, db, logger, servers: machineNats, stream, retry: { firstMs: 50, maxMs: 200 } })
  t.teardown(() => n.stop())
  // Stored at once; the publish fails 1.2 s later, when the window no longer drops a repeat.
  const lost = refusingOnce(n, a, 1200, true)
  n.start()
  await n.caughtUp((await store.head())!, 30_000)
  t.equal(lost.length, 1)
  const stored = (await streamMessages(machineNats, stream.name)).map((m) => m.data as Notification)
  t.equal(stored.filter((m) => m.eventId === lost[0]).length, 1, 'the message whose PubAck was lost is stored once')
  t.equal(stored.length, 6, 'every notification once')
  t.same(stored.filter((m) => m.resource === 'mint' && m.id === a).map((m) => m.status), ['pending', 'processing'])
})
