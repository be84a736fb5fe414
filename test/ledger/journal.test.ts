import { randomUUID } from 'node:crypto'
import { sql } from 'kysely'
import t from 'tap'
import { PostgresEventStore } from '../../src/adapters/event-store/postgres.ts'
import { createWallet } from '../../src/commands/create-wallet.ts'
import { execute } from '../../src/commands/handler.ts'
import { linkBankAccount } from '../../src/commands/link-bank-account.ts'
import { recordBankAccountOutcome } from '../../src/commands/record-bank-account-outcome.ts'
import { recordMintOutcome } from '../../src/commands/record-mint-outcome.ts'
import { recordRedeemOutcome } from '../../src/commands/record-redeem-outcome.ts'
import { recordTransferOutcome } from '../../src/commands/record-transfer-outcome.ts'
import { recordWalletOutcome } from '../../src/commands/record-wallet-outcome.ts'
import { requestMint } from '../../src/commands/request-mint.ts'
import { requestRedeem } from '../../src/commands/request-redeem.ts'
import { requestTransfer } from '../../src/commands/request-transfer.ts'
import { fold } from '../../src/events/fold.ts'
import { available, reserved, wallet } from '../../src/events/wallet.ts'
import { checkJournal } from '../../src/ledger/check.ts'
import { getAccount, journal, listEntries, trialBalance } from '../../src/ledger/journal.ts'
import { meta } from '../helpers/commands.ts'
import { testDatabase } from '../helpers/database.ts'
import { runLedger } from '../helpers/ledger.ts'
import { randomOperations } from '../helpers/random-operations.ts'

t.test('after more than 1,000 random accepted operations, the journal balances and agrees with the wallets', async (t) => {
  const { db, pool } = await testDatabase(t)
  const store = new PostgresEventStore(pool, { pollIntervalMs: 50 })
  t.teardown(() => store.close())
  const run = await randomOperations(store, { steps: 1250 })
  t.ok(run.accepted >= 1000, `${run.accepted} operations accepted, ${run.refused} refused for insufficient funds`)
  for (const outcome of ['mint_failed', 'transfer_failed', 'redeem_failed', 'redeem_completed', 'transfer_completed', 'mint_completed', 'deposit']) {
    t.ok((run.outcomes[outcome] ?? 0) > 0, `the run includes ${outcome} (${run.outcomes[outcome] ?? 0})`)
  }
  const { settle } = runLedger(t, store, db)
  await settle()

  const unbalanced = await sql<{ n: string }>`SELECT count(*)::text AS n FROM (SELECT position_key FROM journal_postings GROUP BY position_key HAVING sum(amount) <> 0) x`.execute(db)
  t.equal(unbalanced.rows[0]!.n, '0', 'every entry sums to zero')
  const entries = await sql<{ n: string }>`SELECT count(*)::text AS n FROM journal_entries`.execute(db)
  t.ok(Number(entries.rows[0]!.n) > 500, `${entries.rows[0]!.n} entries booked`)
  const legs = await sql<{ n: string }>`SELECT count(*)::text AS n FROM (SELECT position_key FROM journal_postings GROUP BY position_key HAVING count(*) <> 2) x`.execute(db)
  t.equal(legs.rows[0]!.n, '0', 'every entry has its two postings')

  const trial = await trialBalance(db)
  t.equal(trial.total, 0n, `the trial balance over ${trial.accounts.length} accounts is zero`)

  for (const walletId of run.wallets) {
    const row = await db.selectFrom('wallets').select(['available', 'reserved']).where('id', '=', walletId).executeTakeFirstOrThrow()
    const { state } = await fold(store, wallet, walletId)
    const journalAvailable = BigInt((await getAccount(db, `wallet:${walletId}:available`))?.balance ?? '0')
    const journalHeld = BigInt((await getAccount(db, `wallet:${walletId}:held`))?.balance ?? '0')
    t.equal(journalAvailable, BigInt(row.available), `wallet ${walletId.slice(0, 8)}: journal available = read model available`)
    t.equal(journalHeld, BigInt(row.reserved), `wallet ${walletId.slice(0, 8)}: journal held = read model reserved`)
    t.equal(journalAvailable, available(state), 'and = the folded stream')
    t.equal(journalHeld, reserved(state), 'and held = the folded reservations')
  }
  const check = await checkJournal(db)
  t.same(check.failure, undefined, 'journal check finds nothing')
  t.ok(check.ok && check.wallets === run.wallets.length)
})

t.test('a mint, a transfer and a failed redeem are booked as the README shows', async (t) => {
  const { db, pool } = await testDatabase(t)
  const store = new PostgresEventStore(pool, { pollIntervalMs: 50 })
  t.teardown(() => store.close())
  const a = randomUUID()
  const b = randomUUID()
  for (const walletId of [a, b]) {
    await execute(store, createWallet, { walletId, ownerId: 'o' }, meta())
    await execute(store, recordWalletOutcome, { walletId, outcome: { type: 'created', circleWalletId: `cw-${walletId}` } }, meta())
  }
  const bank = randomUUID()
  await execute(store, linkBankAccount, { bankAccountId: bank, ownerId: 'o', accountType: 'us', last4: '1234', holderName: 'H', country: 'US' }, meta())
  await execute(store, recordBankAccountOutcome, { bankAccountId: bank, outcome: { type: 'linked', circleWireId: 'w1' } }, meta())
  const mintId = randomUUID()
  await execute(store, requestMint, { mintId, walletId: a, amount: 100_000_000n }, meta())
  const failedMint = randomUUID()
  await execute(store, requestMint, { mintId: failedMint, walletId: a, amount: 7_000_000n }, meta())
  await execute(store, recordMintOutcome, { mintId: failedMint, outcome: { type: 'failed', failure: { code: 'x', message: 'x' } } }, meta())
  await execute(store, recordMintOutcome, { mintId, outcome: { type: 'completed', circleTransferId: 'ct1' } }, meta())
  const transferId = randomUUID()
  await execute(store, requestTransfer, { transferId, sourceWalletId: a, destination: { type: 'wallet', walletId: b }, amount: 30_000_000n }, meta())
  await execute(store, recordTransferOutcome, { transferId, outcome: { type: 'completed', circleTransferId: 'ct2' } }, meta())
  const redeemId = randomUUID()
  await execute(store, requestRedeem, { redeemId, walletId: a, bankAccountId: bank, amount: 50_000_000n }, meta())
  await execute(store, recordRedeemOutcome, { redeemId, outcome: { type: 'transfer_completed', circleTransferId: 'r1' } }, meta())
  await execute(store, recordRedeemOutcome, { redeemId, outcome: { type: 'payout_failed', failure: { code: 'x', message: 'x' } } }, meta())
  await execute(store, recordRedeemOutcome, { redeemId, outcome: { type: 'compensation_completed', circleTransferId: 'r2' } }, meta())
  const { settle } = runLedger(t, store, db)
  await settle()

  const entries = await listEntries(db, { limit: 100 })
  const booked = entries.map((e) => ({ type: e.event_type, operation: e.operation_id, postings: e.postings.map((p) => [p.account, p.amount, p.balance_after]) }))
  t.same(booked, [
    { type: 'MintCompleted', operation: mintId, postings: [['circle:treasury', '-100000000', '-100000000'], [`wallet:${a}:available`, '100000000', '100000000']] },
    { type: 'TransferRequested', operation: transferId, postings: [[`wallet:${a}:available`, '-30000000', '70000000'], [`wallet:${a}:held`, '30000000', '30000000']] },
    { type: 'TransferCompleted', operation: transferId, postings: [[`wallet:${a}:held`, '-30000000', '0'], [`wallet:${b}:available`, '30000000', '30000000']] },
    { type: 'RedeemRequested', operation: redeemId, postings: [[`wallet:${a}:available`, '-50000000', '20000000'], [`wallet:${a}:held`, '50000000', '50000000']] },
    { type: 'RedeemFailed', operation: redeemId, postings: [[`wallet:${a}:held`, '-50000000', '0'], [`wallet:${a}:available`, '50000000', '70000000']] },
  ], 'a failed mint books nothing; a failed redeem leaves the wallet as before it')
  const trial = await trialBalance(db)
  t.same(
    trial.accounts.map((r) => [r.account, r.balance]),
    [
      ['circle:treasury', -100_000_000n],
      ...[
        [`wallet:${a}:available`, 70_000_000n],
        [`wallet:${a}:held`, 0n],
        [`wallet:${b}:available`, 30_000_000n],
      ].sort((x, y) => String(x[0]).localeCompare(String(y[0]))),
    ],
  )
  t.equal(trial.total, 0n)
})

t.test('an operation requested twice (a corrupt log) fails its batch instead of being booked as the first', async (t) => {
  const { db } = await testDatabase(t)
  const requested = (mintId: string, amount: string, position: number) => ({
    id: randomUUID(),
    type: 'MintRequested',
    data: { mintId, walletId: 'w-1', amount },
    metadata: { correlationId: mintId, causationId: mintId, actor: 'tester', occurredAt: '2026-11-27T10:00:00.000Z' },
    stream: `mint-${mintId}-${position}`,
    revision: 0,
    position: String(position),
    recordedAt: '2026-11-27T10:00:00.000Z',
  })
  // Both paths of the operations' insert: a few rows (one statement) and a page's worth (COPY).
  for (const many of [1, 60]) {
    const first = Array.from({ length: many }, (_, i) => requested(`m-${many}-${i}`, '5000000', i + 1))
    await db.transaction().execute((trx) => journal.handle(trx, first as never))
    const again = [requested(`m-${many}-0`, '7000000', 1000), ...Array.from({ length: many - 1 }, (_, i) => requested(`n-${many}-${i}`, '1', 2000 + i))]
    await t.rejects(db.transaction().execute((trx) => journal.handle(trx, again as never)), /duplicate key/)
    const stored = await db.selectFrom('journal_operations').select(['operation_id', 'amount']).where('operation_id', 'like', `%-${many}-%`).execute()
    t.equal(stored.length, many, 'nothing of the failed batch was written')
    t.equal(stored.find((o) => o.operation_id === `m-${many}-0`)?.amount, '5000000', 'the first request stands')
  }
})
