import { randomUUID } from 'node:crypto'
import t from 'tap'
import { sql } from 'kysely'
import { createWallet } from '../../src/commands/create-wallet.ts'
import { execute } from '../../src/commands/handler.ts'
import { fold } from '../../src/events/fold.ts'
import { issueCard } from '../../src/commands/issue-card.ts'
import { linkBankAccount } from '../../src/commands/link-bank-account.ts'
import { recordBankAccountOutcome } from '../../src/commands/record-bank-account-outcome.ts'
import { recordDeposit } from '../../src/commands/record-deposit.ts'
import { requestDepositAddress } from '../../src/commands/request-deposit-address.ts'
import { requestMint } from '../../src/commands/request-mint.ts'
import { requestRedeem } from '../../src/commands/request-redeem.ts'
import { requestTransfer } from '../../src/commands/request-transfer.ts'
import { bankAccount } from '../../src/events/bank-account.ts'
import { card } from '../../src/events/card.ts'
import { isTerminal } from '../../src/events/event.ts'
import type { EventStore } from '../../src/events/event-store.ts'
import { mint } from '../../src/events/mint.ts'
import { parseAmount } from '../../src/events/money.ts'
import { redeem } from '../../src/events/redeem.ts'
import { transfer } from '../../src/events/transfer.ts'
import { available, reserved, wallet } from '../../src/events/wallet.ts'
import { meta } from '../helpers/commands.ts'
import { testApp } from '../helpers/app.ts'
import { processManagerHarness, until } from '../helpers/circle.ts'

type Harness = Awaited<ReturnType<typeof processManagerHarness>>

async function activeWallet(h: Harness, ownerId = 'owner-1') {
  const walletId = randomUUID()
  await execute(h.store, createWallet, { walletId, ownerId }, meta())
  return until(async () => {
    const { state } = await fold(h.store, wallet, walletId)
    return state.status === 'active' && state.circleWalletId ? walletId : undefined
  }, 10_000, 'wallet active')
}

async function funded(h: Harness, amount: string, ownerId = 'owner-1') {
  const walletId = await activeWallet(h, ownerId)
  const mintId = randomUUID()
  await execute(h.store, requestMint, { mintId, walletId, amount: parseAmount(amount) }, meta())
  await terminal(h.store, mint, mintId)
  return walletId
}

async function terminal<S extends { status: string }>(store: EventStore, type: Parameters<typeof fold<S>>[1], id: string): Promise<S> {
  return until(async () => {
    const { state } = await fold(store, type, id)
    return isTerminal(state.status as never) ? state : undefined
  }, 15_000, `${id} terminal`)
}

async function linkedBank(h: Harness, ownerId = 'owner-1') {
  const bankAccountId = randomUUID()
  await execute(h.store, linkBankAccount, { bankAccountId, ownerId, accountType: 'us', last4: '0010', holderName: 'Ada', country: 'US' }, meta())
  const wire = await h.circle.createWireAccount({
    idempotencyKey: randomUUID(),
    details: { accountNumber: '12340010', routingNumber: '121000248', billingDetails: { name: 'Ada', line1: '1 Main', city: 'Boston', postalCode: '02201', country: 'US' }, bankAddress: { country: 'US' } },
  })
  await execute(h.store, recordBankAccountOutcome, { bankAccountId, outcome: { type: 'submitted', circleWireId: wire.id } }, meta())
  await until(async () => ((await fold(h.store, bankAccount, bankAccountId)).state.status === 'active' ? true : undefined), 10_000, 'bank linked')
  return bankAccountId
}

t.test('wallet creation and a deposit address reach Circle and come back active', async (t) => {
  const h = await processManagerHarness(t)
  const walletId = await activeWallet(h)
  const addressId = randomUUID()
  await execute(h.store, requestDepositAddress, { walletId, addressId, chain: 'SOL' }, meta())
  const address = await until(async () => {
    const a = (await fold(h.store, wallet, walletId)).state.addresses[addressId]
    return a?.status === 'active' ? a : undefined
  })
  t.match(address.address, /^[1-9A-HJ-NP-Za-km-z]+$/)
  t.equal((await h.sim.creations()).filter((c) => c.kind === 'wallet').length, 1, 'one Circle wallet')
})

t.test('a bank account submitted to Circle is linked by polling Circle', async (t) => {
  const h = await processManagerHarness(t)
  const bankAccountId = await linkedBank(h)
  t.equal((await fold(h.store, bankAccount, bankAccountId)).state.status, 'active')
})

t.test('a mint moves USDC from the treasury to the wallet and completes', async (t) => {
  const h = await processManagerHarness(t, { treasury: '500' })
  const walletId = await activeWallet(h)
  const mintId = randomUUID()
  await execute(h.store, requestMint, { mintId, walletId, amount: parseAmount('120.50') }, meta())
  const done = await terminal(h.store, mint, mintId)
  t.equal(done.status, 'completed')
  t.ok(done.treasuryChecked, 'the treasury check was recorded')
  const w = (await fold(h.store, wallet, walletId)).state
  t.equal(available(w), parseAmount('120.50'))
  t.equal(await h.sim.balanceOf(w.circleWalletId!), parseAmount('120.50'), 'Circle agrees')
})

t.test('new work wakes the worker at once: a mint completes without waiting for the idle tick', async (t) => {
  // An idle tick of a minute: every step must be started by the subscriber's commit ringing the
  // worker, never by the tick (a ring before the commit would find no due task and sleep it out).
  const h = await processManagerHarness(t, { treasury: '500', settleMs: 0 }, { tickMs: 60_000 })
  const began = Date.now()
  const walletId = await activeWallet(h)
  const mintId = randomUUID()
  await execute(h.store, requestMint, { mintId, walletId, amount: parseAmount('1.00') }, meta())
  t.equal((await terminal(h.store, mint, mintId)).status, 'completed')
  t.ok(Date.now() - began < 30_000, 'no step waited for the one-minute tick')
})

t.test('a mint the treasury cannot cover fails with insufficient_treasury_balance and calls no transfer', async (t) => {
  const h = await processManagerHarness(t, { treasury: '100' })
  const walletId = await activeWallet(h)
  const mintId = randomUUID()
  await execute(h.store, requestMint, { mintId, walletId, amount: parseAmount('100.01') }, meta())
  const done = await terminal(h.store, mint, mintId)
  t.equal(done.status, 'failed')
  t.equal(done.failure?.code, 'insufficient_treasury_balance')
  t.equal((await h.sim.creations()).filter((c) => c.kind === 'transfer').length, 0)
})

t.test('a redeem runs both Circle steps and completes; the wallet is debited', async (t) => {
  const h = await processManagerHarness(t)
  const walletId = await funded(h, '100')
  const bankAccountId = await linkedBank(h)
  const redeemId = randomUUID()
  await execute(h.store, requestRedeem, { redeemId, walletId, bankAccountId, amount: parseAmount('40') }, meta())
  const done = await terminal(h.store, redeem, redeemId)
  t.equal(done.status, 'completed')
  const w = (await fold(h.store, wallet, walletId)).state
  t.equal(available(w), parseAmount('60'))
  t.equal(reserved(w), 0n)
  t.equal((await h.sim.creations()).filter((c) => c.kind === 'payout').length, 1, 'one payout')
  t.equal(await h.sim.balanceOf(w.circleWalletId!), parseAmount('60'))
})

t.test('a payout that fails after step 1 sends the USDC back; the redeem fails with the funds in the wallet', async (t) => {
  const h = await processManagerHarness(t)
  h.sim.setFaults({ failPayoutAmounts: ['40.00'] })
  const walletId = await funded(h, '100')
  const bankAccountId = await linkedBank(h)
  const redeemId = randomUUID()
  await execute(h.store, requestRedeem, { redeemId, walletId, bankAccountId, amount: parseAmount('40') }, meta())
  const done = await terminal(h.store, redeem, redeemId)
  t.equal(done.status, 'failed')
  t.equal(done.failure?.code, 'bank_transaction_error', 'the payout’s failure')
  const events = (await h.store.readStream(redeem.streamName(redeemId))).map((e) => e.type)
  t.same(events, ['RedeemRequested', 'RedeemTransferSubmitted', 'RedeemTransferCompleted', 'RedeemPayoutSubmitted', 'RedeemPayoutFailed', 'RedeemCompensationSubmitted', 'RedeemFailed'])
  const w = (await fold(h.store, wallet, walletId)).state
  t.equal(available(w), parseAmount('100'), 'the ledger gives the funds back')
  t.equal(await h.sim.balanceOf(w.circleWalletId!), parseAmount('100'), 'and so does Circle')
})

t.test('transfers to a wallet and to a chain complete; a failing address fails and releases the funds', async (t) => {
  const h = await processManagerHarness(t)
  const failing = '0x000000000000000000000000000000000000dEaD'
  h.sim.setFaults({ failAddresses: [failing] })
  const source = await funded(h, '50')
  const target = await activeWallet(h, 'owner-2')
  const internal = randomUUID()
  const onChain = randomUUID()
  const doomed = randomUUID()
  await execute(h.store, requestTransfer, { transferId: internal, sourceWalletId: source, destination: { type: 'wallet', walletId: target }, amount: parseAmount('10') }, meta())
  await execute(h.store, requestTransfer, { transferId: onChain, sourceWalletId: source, destination: { type: 'blockchain', chain: 'SOL', address: '4Nd1mBQtrMJVYVfKf2PJy9NZUZdTAsp7D4xWLs4gDB4T' }, amount: parseAmount('5') }, meta())
  await execute(h.store, requestTransfer, { transferId: doomed, sourceWalletId: source, destination: { type: 'blockchain', chain: 'ETH', address: failing }, amount: parseAmount('7') }, meta())
  t.equal((await terminal(h.store, transfer, internal)).status, 'completed')
  const chainDone = await terminal(h.store, transfer, onChain)
  t.equal(chainDone.status, 'completed')
  t.ok(chainDone.txHash, 'the on-chain transfer has its tx hash')
  const failed = await terminal(h.store, transfer, doomed)
  t.equal(failed.status, 'failed')
  t.equal(failed.failure?.code, 'transfer_failed')
  t.equal(available((await fold(h.store, wallet, target)).state), parseAmount('10'))
  t.equal(available((await fold(h.store, wallet, source)).state), parseAmount('35'))
})

t.test('a permanent Circle error fails the operation with Circle’s code', async (t) => {
  const h = await processManagerHarness(t)
  const walletId = await activeWallet(h)
  // The ledger believes in a deposit Circle never saw: Circle refuses the transfer (1093).
  await execute(h.store, recordDeposit, { circleTransferId: randomUUID(), walletId, amount: parseAmount('10') }, meta())
  const transferId = randomUUID()
  await execute(h.store, requestTransfer, { transferId, sourceWalletId: walletId, destination: { type: 'blockchain', chain: 'SOL', address: '4Nd1mBQtrMJVYVfKf2PJy9NZUZdTAsp7D4xWLs4gDB4T' }, amount: parseAmount('10') }, meta())
  const done = await terminal(h.store, transfer, transferId)
  t.equal(done.status, 'failed')
  t.match(done.failure, { code: 'circle_1093', message: /Insufficient funds/ })
  t.equal(available((await fold(h.store, wallet, walletId)).state), parseAmount('10'), 'the reservation is released')
})

t.test('a card is issued through the card issuer; a freeze the issuer was slow to confirm lands later, a refused one fails', async (t) => {
  const h = await processManagerHarness(t)
  const { app } = await testApp(t, { issuer: h.issuer, cardActionWaitMs: 150 }, h)
  const walletId = await activeWallet(h)
  const cardId = randomUUID()
  await execute(h.store, issueCard, { cardId, walletId, cardholderName: 'Ada Lovelace' }, meta())
  const issued = await until(async () => {
    const { state } = await fold(h.store, card, cardId)
    return state.status === 'active' ? state : undefined
  })
  t.match(issued.last4, /^\d{4}$/)
  const post = (action: string) => app.inject({ method: 'POST', url: `/cards/${cardId}/${action}`, headers: { authorization: 'Bearer dev-backend-key' } })

  h.sim.setFaults({ cardActionDelayMs: 600 })
  const slow = await post('freeze')
  t.equal(slow.statusCode, 202, 'the issuer took longer than the wait')
  t.match(slow.json(), { status: 'active', pendingAction: 'freeze' })
  const landed = await until(async () => {
    const { state } = await fold(h.store, card, cardId)
    return state.status === 'frozen' ? state : undefined
  }, 10_000, 'freeze landed')
  t.equal(landed.pendingAction, undefined, 'the process manager landed the freeze')
  t.equal((await h.sim.card(issued.issuerCardId!))?.status, 'frozen', 'and the issuer has it frozen')

  h.sim.setFaults({})
  t.equal((await post('unfreeze')).json().status, 'active', 'a prompt issuer answers 200 at once')
  h.sim.setFaults({ cardActionDelayMs: 600, refuseCardActions: { actions: ['freeze'], message: 'card under review' } })
  t.equal((await post('freeze')).statusCode, 202)
  const refused = await until(async () => {
    const { state } = await fold(h.store, card, cardId)
    return state.actionFailure ? state : undefined
  }, 10_000, 'refusal recorded')
  t.equal(refused.status, 'active', 'the refused freeze leaves the card active')
  t.match(refused.actionFailure, { action: 'freeze', failure: { message: /card under review/ } })
})

t.test('replaying the whole subscription from the start appends nothing new', async (t) => {
  const h = await processManagerHarness(t)
  const walletId = await funded(h, '30')
  const transferId = randomUUID()
  await execute(h.store, requestTransfer, { transferId, sourceWalletId: walletId, destination: { type: 'blockchain', chain: 'SOL', address: '4Nd1mBQtrMJVYVfKf2PJy9NZUZdTAsp7D4xWLs4gDB4T' }, amount: parseAmount('3') }, meta())
  await terminal(h.store, transfer, transferId)
  await h.pm.stop()
  const before = await h.store.head()
  const creations = (await h.sim.creations()).length
  await sql`UPDATE checkpoints SET position = NULL WHERE name = 'process-manager'`.execute(h.db)
  await sql`UPDATE pm_tasks SET done = false, due_at = now()`.execute(h.db)
  h.pm.start()
  await until(async () => ((await sql<{ n: string }>`SELECT count(*) AS n FROM pm_tasks WHERE NOT done`.execute(h.db)).rows[0]!.n === '0' ? true : undefined), 10_000, 'tasks done')
  t.equal(await h.store.head(), before, 'no new event')
  t.equal((await h.sim.creations()).length, creations, 'no new Circle resource')
})

t.test('a revoked Circle key does not fail operations: they wait and complete once the key works again', async (t) => {
  // The harness retries every few ms; with the default budget of 10 attempts a slow machine spent it
  // (7-10 attempts) before the key came back, and the task became a dead letter instead of waiting.
  const h = await processManagerHarness(t, { treasury: '500' }, { maxAttempts: 1000 })
  const walletId = await activeWallet(h)
  h.sim.setFaults({ revokedKeys: ['SIM_KEY'] })
  const mintId = randomUUID()
  await execute(h.store, requestMint, { mintId, walletId, amount: parseAmount('10') }, meta())
  await until(async () => ((await h.circle.accessProblem()) ? true : undefined), 10_000, 'the adapter saw the 401')
  await new Promise((r) => setTimeout(r, 600))
  const waiting = (await fold(h.store, mint, mintId)).state
  t.equal(waiting.status, 'pending', 'the mint is not failed by our own key being refused')
  t.equal(waiting.failure, undefined)
  const task = await h.db.selectFrom('pm_tasks').select(['attempts', 'last_error', 'done']).where('stream', '=', `mint-${mintId}`).executeTakeFirstOrThrow()
  t.ok(task.attempts >= 1 && !task.done, `the task is retried with backoff (${task.attempts} attempts)`)
  t.match(task.last_error, /API key|401|credentials/i)
  h.sim.setFaults({})
  const done = await terminal(h.store, mint, mintId)
  t.equal(done.status, 'completed', 'it resumes and completes once the key works')
})

t.test('a bank account Circle never received fails as submission_abandoned once no retry can come; a submitted one is not touched', async (t) => {
  const h = await processManagerHarness(t, {}, { submissionAbandonMs: 800 })
  const abandoned = randomUUID()
  await execute(h.store, linkBankAccount, { bankAccountId: abandoned, ownerId: 'owner-1', accountType: 'us', last4: '0010', holderName: 'Ada', country: 'US' }, meta())
  const submitted = await linkedBank(h)
  await new Promise((r) => setTimeout(r, 300))
  t.equal((await fold(h.store, bankAccount, abandoned)).state.status, 'pending', 'still pending while a retry may come')
  const failed = await until(async () => {
    const { state } = await fold(h.store, bankAccount, abandoned)
    return state.status === 'failed' ? state : undefined
  }, 10_000, 'abandoned')
  t.equal(failed.failure?.code, 'submission_abandoned')
  t.match(failed.failure?.message, /new Idempotency-Key/)
  const events = await h.store.readStream(bankAccount.streamName(abandoned))
  t.same(events.map((e) => e.type), ['BankAccountLinkRequested', 'BankAccountLinkFailed'], 'one failure event, the source of its notification')
  t.equal((await fold(h.store, bankAccount, submitted)).state.status, 'active', 'a submitted account links as before')
})
