import { randomUUID } from 'node:crypto'
import t from 'tap'
import { sql } from 'kysely'
import { auth } from '../helpers/app.ts'
import { until } from '../helpers/circle.ts'
import { apiBankAccount, apiCard, apiMint, apiWallet, downableIssuer, isSettled, scrapeWhen, waitFor, webhookFlow } from '../helpers/webhook-flow.ts'
import { deriveId, outcomeCommandId } from '../../src/commands/ids.ts'
import { store } from '../../src/webhooks/inbox.ts'

const terminalTypes = ['MintCompleted', 'MintFailed', 'TransferCompleted', 'TransferFailed', 'RedeemCompleted', 'RedeemFailed']

// Circle settles after 1.5 s here, so the process manager's own look right after submitting sees
// the transfer pending, and only the webhook can complete it.
t.test('with polling disabled, a mint completes from the v2 webhook, recorded by circle-webhook', async (t) => {
  const h = await webhookFlow(t, { simulator: { settleMs: 1500 } })
  const wallet = await apiWallet(h)
  const mintId = await apiMint(h, wallet.id, '25.00')
  const mint = await waitFor(h, `/mints/${mintId}`, isSettled)
  t.equal(mint.status, 'completed')
  const events = await h.events(`mint-${mintId}`)
  const completed = events.filter((e) => e.type === 'MintCompleted')
  t.equal(completed.length, 1)
  t.equal(completed[0]!.metadata.actor, 'circle-webhook')
  const w = await waitFor(h, `/wallets/${wallet.id}`, (b) => (b.balances as { available: string }).available === '25.00')
  t.equal((w.balances as { available: string }).available, '25.00')
  // Logged and counted like a completion the process manager records.
  const line = h.workerLogs.find((l) => l.msg === 'mint completed')
  t.match(line, { operationId: mintId, stream: `mint-${mintId}`, event: 'MintCompleted', actor: 'circle-webhook' }, 'one log line for the step')
  t.equal(h.workerLogs.filter((l) => l.msg === 'mint completed').length, 1)
  await scrapeWhen(h, /ledger_operations_total\{kind="mint",status="completed"\} 1\n/)
})

t.test('v1 SNS delivery (both signature versions) completes a mint; the subscription is confirmed first', async (t) => {
  const h = await webhookFlow(t, { webhooks: [{ version: 'v1', signatureVersion: '1' }, { version: 'v1', signatureVersion: '2' }] })
  const subscribers = (await (await fetch(`${h.url}/sim/webhooks`, { headers: h.sim.controlHeaders })).json()) as { subscribers: { confirmed: boolean }[] }
  await until(async () => {
    const s = (await (await fetch(`${h.url}/sim/webhooks`, { headers: h.sim.controlHeaders })).json()) as { subscribers: { confirmed: boolean }[] }
    return s.subscribers.every((x) => x.confirmed)
  }, 10_000, 'SNS subscriptions confirmed')
  t.equal(subscribers.subscribers.length, 2)
  const wallet = await apiWallet(h)
  const mintId = await apiMint(h, wallet.id, '7.00')
  t.equal((await waitFor(h, `/mints/${mintId}`, isSettled)).status, 'completed')
  const rows = await h.db.selectFrom('webhook_inbox').select(['scheme']).execute()
  t.ok(rows.length > 0 && rows.every((r) => r.scheme === 'sns'), 'stored as SNS notifications')
})

t.test('a redeem (both steps) and a wire account complete from payouts, transfers and wire webhooks', async (t) => {
  const h = await webhookFlow(t, { simulator: { settleMs: 1500 } })
  const wallet = await apiWallet(h)
  await waitFor(h, `/mints/${await apiMint(h, wallet.id, '50.00')}`, isSettled)
  const bankAccountId = await apiBankAccount(h)
  const redeemId = (await h.post('/redeem', { walletId: wallet.id, bankAccountId, amount: '20.00' })).json().id as string
  t.equal((await waitFor(h, `/redeems/${redeemId}`, isSettled)).status, 'completed')
  const types = (await h.events(`redeem-${redeemId}`)).map((e) => e.type)
  t.same(types.filter((x) => terminalTypes.includes(x)), ['RedeemCompleted'])
  const redeemEvents = await h.events(`redeem-${redeemId}`)
  t.equal(redeemEvents.find((e) => e.type === 'RedeemTransferCompleted')?.metadata.actor, 'circle-webhook', 'step 1 completed from the transfers webhook')
  t.equal(redeemEvents.find((e) => e.type === 'RedeemCompleted')?.metadata.actor, 'circle-webhook', 'step 2 completed from the payouts webhook')
  const linked = (await h.events(`bankaccount-${bankAccountId}`)).find((e) => e.type === 'BankAccountLinked')
  t.equal(linked?.metadata.actor, 'circle-webhook', 'the wire account was linked from the wire webhook')
})

t.test('an inbound on-chain deposit to our wallet creates a deposit and credits the wallet', async (t) => {
  const h = await webhookFlow(t)
  const wallet = await apiWallet(h)
  const res = await fetch(`${h.url}/sim/deposits`, { method: 'POST', headers: { 'content-type': 'application/json', ...h.sim.controlHeaders }, body: JSON.stringify({ walletId: wallet.circleWalletId, amount: '12.34', chain: 'ETH' }) })
  const transfer = ((await res.json()) as { data: { id: string } }).data
  const deposit = await until(async () => {
    const events = await h.events(`deposit-${transfer.id}`)
    return events.find((e) => e.type === 'DepositCompleted')
  }, 15_000, 'deposit recorded')
  t.equal(deposit.metadata.actor, 'circle-webhook')
  // The deposit poller's command id, so the two write the same event ids for one deposit.
  t.equal(deposit.id, deriveId(outcomeCommandId(`deposit-${transfer.id}`, 'completed'), `deposit-${transfer.id}`, '0'), 'recorded under the deposit poller’s command id')
  t.equal(deposit.data.amount, '12340000')
  await waitFor(h, `/wallets/${wallet.id}`, (b) => (b.balances as { available: string }).available === '12.34')
  const read = await waitFor(h, `/deposits/${transfer.id}`, (b) => b.status === 'completed')
  t.match(read, { id: transfer.id, walletId: wallet.id, amount: '12.34', currency: 'USD', chain: 'ETH', txHash: deposit.data.txHash }, 'GET /deposits/{id} shows where it came from')
  t.type(read.txHash, 'string')
})

t.test('an inbound deposit in another currency than USDC, or with none, is never credited: a dead letter at once', async (t) => {
  const h = await webhookFlow(t, { webhookMaxAttempts: 5 })
  const wallet = await apiWallet(h)
  const inbound = (id: string, amount: Record<string, string>) => ({
    id,
    status: 'complete',
    source: { type: 'blockchain', chain: 'ETH' },
    destination: { type: 'wallet', id: wallet.circleWalletId },
    amount,
  })
  const eurc = randomUUID()
  const unsaid = randomUUID()
  await store(h.db, { scheme: 'v2', id: randomUUID(), type: 'transfers', resource: inbound(eurc, { amount: '25.00', currency: 'EUR' }) })
  await store(h.db, { scheme: 'v2', id: randomUUID(), type: 'transfers', resource: inbound(unsaid, { amount: '7.00' }) })
  h.worker.notify()
  const dead = await until(async () => {
    const items = (await h.get('/admin/dead-letters?kind=webhook', auth.admin)).json().items as { status: string; attempts: number; error: string }[]
    return items.length === 2 ? items : undefined
  }, 10_000, 'two dead letters')
  // Refused on the first attempt, not after the retries a notification that may yet apply gets.
  t.same(dead.map((d) => d.attempts), [1, 1])
  t.same(dead.map((d) => d.error).sort(), [
    `inbound transfer ${eurc} of 25.00 EUR is not USDC; the ledger books USDC only and did not credit it`,
    `inbound transfer ${unsaid} of 7.00 (no currency) is not USDC; the ledger books USDC only and did not credit it`,
  ].sort())
  t.same(await h.events(`deposit-${eurc}`), [])
  t.same(await h.events(`deposit-${unsaid}`), [])
  t.same((await h.get(`/wallets/${wallet.id}`)).json().balances, { available: '0.00', reserved: '0.00', total: '0.00', currency: 'USD' })
})

t.test('a zero-value inbound transfer or deposit, and USDC sent on-chain to the treasury, credit nothing and are processed, not retried into a dead letter', async (t) => {
  const h = await webhookFlow(t, { webhookMaxAttempts: 2 })
  const wallet = await apiWallet(h)
  const dust = randomUUID()
  const fiat = randomUUID()
  const transfer = { id: dust, status: 'complete', source: { type: 'blockchain', chain: 'ETH' }, destination: { type: 'wallet', id: wallet.circleWalletId }, amount: { amount: '0.00', currency: 'USD' } }
  const deposit = { id: fiat, status: 'complete', destination: { type: 'wallet', id: wallet.circleWalletId }, amount: { amount: '0', currency: 'USD' } }
  // USDC sent on-chain to the treasury: no wallet of ours to credit, and nothing to retry.
  const topUp = randomUUID()
  const treasury = { ...transfer, id: topUp, destination: { type: 'wallet', id: await h.circle.masterWalletId() }, amount: { amount: '500.00', currency: 'USD' } }
  await store(h.db, { scheme: 'v2', id: randomUUID(), type: 'transfers', resource: transfer })
  await store(h.db, { scheme: 'v2', id: randomUUID(), type: 'deposits', resource: deposit })
  await store(h.db, { scheme: 'v2', id: randomUUID(), type: 'transfers', resource: treasury })
  h.worker.notify()
  const rows = await until(async () => {
    const r = await h.db.selectFrom('webhook_inbox').select(['status', 'attempts', 'last_error']).where(sql<boolean>`resource->>'id' IN (${dust}, ${fiat}, ${topUp})`).execute()
    return r.length === 3 && r.every((x) => x.status !== 'pending') ? r : undefined
  }, 10_000, 'all handled')
  t.same(rows.map((r) => r.status), ['processed', 'processed', 'processed'], 'processed at the first attempt')
  t.same(await h.events(`deposit-${topUp}`), [])
  t.same(await h.events(`deposit-${dust}`), [])
  t.same(await h.events(`deposit-${fiat}`), [])
  t.same((await h.get('/admin/dead-letters?kind=webhook', auth.admin)).json().items, [], 'no dead letter')
  t.same((await h.get(`/wallets/${wallet.id}`)).json().balances, { available: '0.00', reserved: '0.00', total: '0.00', currency: 'USD' })
})

t.test('the issuer freezing a card on its own is recorded as CardStatusChanged from its card event', async (t) => {
  const h = await webhookFlow(t)
  const { cardId, issuerCardId } = await apiCard(h)
  await fetch(`${h.url}/sim/cards/${issuerCardId}/status`, { method: 'POST', headers: { 'content-type': 'application/json', ...h.sim.controlHeaders }, body: JSON.stringify({ status: 'frozen' }) })
  await waitFor(h, `/cards/${cardId}`, (b) => b.status === 'frozen')
  const changed = (await h.events(`card-${cardId}`)).filter((e) => e.type === 'CardStatusChanged')
  t.equal(changed.length, 1)
  t.equal(changed[0]!.metadata.actor, 'circle-webhook')
})

t.test('a card event while our freeze waits behind a dead letter does not undo the freeze; a close at the issuer is recorded', async (t) => {
  const { switchboard, wrap } = downableIssuer(['freeze'])
  const h = await webhookFlow(t, { taskMaxAttempts: 2, issuer: wrap })
  const { cardId, issuerCardId } = await apiCard(h)
  switchboard.down = true
  t.equal((await h.app.inject({ method: 'POST', url: `/cards/${cardId}/freeze`, headers: auth.backend })).statusCode, 200)
  await until(async () => {
    const task = await h.db.selectFrom('pm_tasks').selectAll().where('stream', '=', `card-${cardId}`).executeTakeFirstOrThrow()
    return task.done && task.dead_letter_id !== null
  }, 20_000, 'freeze task parked behind its dead letter')

  // The issuer, which never heard of the freeze, reports the card as it knows it: active.
  const notificationId = randomUUID()
  await store(h.db, { id: notificationId, scheme: 'v2', type: 'cards', resource: { id: issuerCardId, status: 'active' } })
  h.worker.notify()
  const row = await until(async () => {
    const r = await h.db.selectFrom('webhook_inbox').selectAll().where('id', '=', notificationId).executeTakeFirstOrThrow()
    return r.status === 'processed' ? r : undefined
  }, 10_000, 'card event processed')
  t.equal(row.last_error, null)
  t.equal((await h.get(`/cards/${cardId}`)).json().status, 'frozen', 'still frozen in the ledger')
  t.same((await h.events(`card-${cardId}`)).filter((e) => e.type === 'CardStatusChanged'), [], 'no status change recorded')

  // The issuer closing the card itself is final: recorded even while our freeze waits.
  await fetch(`${h.url}/sim/cards/${issuerCardId}/status`, { method: 'POST', headers: { 'content-type': 'application/json', ...h.sim.controlHeaders }, body: JSON.stringify({ status: 'closed' }) })
  await waitFor(h, `/cards/${cardId}`, (b) => b.status === 'closed')
  const changed = (await h.events(`card-${cardId}`)).filter((e) => e.type === 'CardStatusChanged')
  t.same(changed.map((e) => e.data.status), ['closed'])
})

t.test('a status that would move backwards (failed after complete) is ignored and changes nothing', async (t) => {
  const h = await webhookFlow(t)
  const wallet = await apiWallet(h)
  const mintId = await apiMint(h, wallet.id, '5.00')
  await waitFor(h, `/mints/${mintId}`, isSettled)
  const circleTransferId = (await h.events(`mint-${mintId}`)).find((e) => e.type === 'MintSubmitted')!.data.circleTransferId as string
  // A late "failed" for the completed transfer, stored as if verified.
  await h.db
    .insertInto('webhook_inbox')
    .values({ id: randomUUID(), scheme: 'v2', notification_type: 'transfers', resource: JSON.stringify({ id: circleTransferId, status: 'failed' }), locked_until: null, last_error: null, dead_letter_id: null, processed_at: null })
    .execute()
  h.worker.notify()
  await until(async () => (await h.db.selectFrom('webhook_inbox').select('id').where('status', '=', 'pending').execute()).length === 0, 10_000, 'inbox drained')
  t.same((await h.events(`mint-${mintId}`)).map((e) => e.type).filter((x) => terminalTypes.includes(x)), ['MintCompleted'])
  t.equal((await h.get(`/mints/${mintId}`)).json().status, 'completed')
})

t.test('a webhook that keeps failing becomes a dead letter after N attempts, and an admin replays it once the cause is fixed', async (t) => {
  const h = await webhookFlow(t, { webhookMaxAttempts: 3 })
  const wallet = await apiWallet(h)
  // A deposit to a Circle wallet we do not know yet: the worker cannot credit anyone.
  const stranger = await h.circle.createWallet({ idempotencyKey: randomUUID(), description: 'not ours yet' })
  await fetch(`${h.url}/sim/deposits`, { method: 'POST', headers: { 'content-type': 'application/json', ...h.sim.controlHeaders }, body: JSON.stringify({ walletId: stranger.walletId, amount: '3.00' }) })
  const dead = await until(async () => {
    const res = await h.get('/admin/dead-letters?kind=webhook', auth.admin)
    return (res.json().items as { id: string; status: string; detail: string; attempts: number; error: string }[]).find((d) => d.status === 'open')
  }, 20_000, 'dead letter')
  t.equal(dead.detail, 'transfers')
  t.equal(dead.attempts, 3)
  t.match(dead.error, /names no wallet or address of ours/)
  const row = await h.db.selectFrom('webhook_inbox').selectAll().where('dead_letter_id', '=', dead.id).executeTakeFirstOrThrow()
  t.equal(row.status, 'dead')
  // The worker counts the dead letter after the inbox row is marked, a moment after both are visible here.
  const metrics = await scrapeWhen(h, /webhooks_total\{stage="dead_lettered"\} 1/)
  t.match(metrics, /webhooks_total\{stage="dead_lettered"\} 1/)
  t.match(metrics, /dead_letters_open\{source="webhook",kind="transfers"\} 1/)

  // The cause is fixed: the Circle wallet becomes one of ours (its link is what the worker lacked).
  await sql`INSERT INTO circle_ids (circle_id, kind, stream, entity_id, created_at, position) VALUES (${stranger.walletId}, 'wallet', ${`wallet-${wallet.id}`}, ${wallet.id}, now(), '0')`.execute(h.db)
  const replayed = await h.app.inject({ method: 'POST', url: `/admin/dead-letters/${dead.id}/replay`, headers: auth.admin })
  t.equal(replayed.statusCode, 200, replayed.body)
  t.equal(replayed.json().status, 'replayed')
  t.equal(replayed.json().resolvedBy, 'admin:dev-admin')
  await waitFor(h, `/wallets/${wallet.id}`, (b) => (b.balances as { available: string }).available === '3.00')
  const audit = await h.events(`deadletter-${dead.id}`)
  t.same(audit.map((e) => [e.type, e.metadata.actor]), [['DeadLetterRecorded', 'circle-webhook'], ['DeadLetterReplayed', 'admin:dev-admin']])
  const again = await h.app.inject({ method: 'POST', url: `/admin/dead-letters/${dead.id}/replay`, headers: auth.admin })
  t.equal(again.statusCode, 409, 'a dead letter is replayed once')
})

t.test('a card event for a card still being issued wakes its issuance (polling disabled)', async (t) => {
  // The issuer activates the card after 1.5 s; the process manager's next poll is an hour away.
  const h = await webhookFlow(t, { simulator: { settleMs: 1500 } })
  const wallet = await apiWallet(h)
  const cardId = (await h.post('/cards', { walletId: wallet.id, cardholderName: 'Ada Lovelace' })).json().id as string
  const card = await waitFor(h, `/cards/${cardId}`, (b) => b.status !== 'pending', 15_000)
  t.equal(card.status, 'active')
  t.equal((await h.events(`card-${cardId}`)).filter((e) => e.type === 'CardIssued').length, 1)
})
