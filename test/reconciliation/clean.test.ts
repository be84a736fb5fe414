import { randomUUID } from 'node:crypto'
import t from 'tap'
import { execute } from '../../src/commands/handler.ts'
import { linkBankAccount } from '../../src/commands/link-bank-account.ts'
import { recordBankAccountOutcome } from '../../src/commands/record-bank-account-outcome.ts'
import { recordDeposit } from '../../src/commands/record-deposit.ts'
import { requestMint } from '../../src/commands/request-mint.ts'
import { requestRedeem } from '../../src/commands/request-redeem.ts'
import { requestTransfer } from '../../src/commands/request-transfer.ts'
import { bankAccount } from '../../src/events/bank-account.ts'
import { isTerminal, type StreamType } from '../../src/events/event.ts'
import { fold, type AnyEvent } from '../../src/events/fold.ts'
import { mint } from '../../src/events/mint.ts'
import { parseAmount } from '../../src/events/money.ts'
import { redeem } from '../../src/events/redeem.ts'
import { transfer } from '../../src/events/transfer.ts'
import { reconcile } from '../../src/reconciliation/reconciler.ts'
import { listFindings } from '../../src/reconciliation/runs.ts'
import { until } from '../helpers/circle.ts'
import { now, reconcileHarness } from '../helpers/reconcile.ts'

t.test('a clean ledger after 200 mixed operations gives a run with zero findings', async (t) => {
  const h = await reconcileHarness(t, { settleMs: 20 })
  // Some transfers fail at Circle, some payouts fail and are compensated: outcomes of every kind.
  h.sim.setFaults({ failAmounts: ['1.11'], failPayoutAmounts: ['2.22'] })
  const operations: { type: StreamType<{ status: string }, AnyEvent>; id: string }[] = []
  const allTerminal = async () => {
    for (const op of operations) {
      const status = (await fold(h.store, op.type, op.id)).state.status
      // A linked bank account is active: its link is done.
      if (status !== 'active' && !isTerminal(status as never)) return undefined
    }
    return true
  }
  let count = 0

  const wallets = []
  for (let i = 0; i < 10; i++) wallets.push(await h.newWallet())
  count += wallets.length
  await h.settled()
  // A run before the operations: the one after them compares the treasury with it.
  t.equal((await reconcile(h.deps, h.options, 'cli')).outcome, 'clean')
  const banks = new Map<string, string>()
  for (const w of wallets) {
    const bankAccountId = randomUUID()
    await execute(h.store, linkBankAccount, { bankAccountId, ownerId: 'owner', accountType: 'us', last4: '0010', holderName: 'H', country: 'US' }, now())
    const wire = await h.circle.createWireAccount({
      idempotencyKey: randomUUID(),
      details: { accountNumber: '12340010', routingNumber: '121000248', billingDetails: { name: 'H', line1: 'l', city: 'c', postalCode: '1', country: 'US' }, bankAddress: { country: 'US' } },
    })
    await execute(h.store, recordBankAccountOutcome, { bankAccountId, outcome: { type: 'submitted', circleWireId: wire.id } }, now())
    banks.set(w.walletId, bankAccountId)
    operations.push({ type: bankAccount as never, id: bankAccountId })
  }
  count += banks.size

  for (let i = 0; i < 90; i++) {
    const mintId = randomUUID()
    await execute(h.store, requestMint, { mintId, walletId: wallets[i % 10]!.walletId, amount: parseAmount('20') }, now())
    operations.push({ type: mint as never, id: mintId })
  }
  count += 90
  await until(allTerminal, 120_000, 'mints and bank accounts terminal')

  for (let i = 0; i < 10; i++) {
    const w = wallets[i]!
    const sent = await h.control('POST', '/sim/deposits', { walletId: w.circleWalletId, amount: '3.00', chain: 'ETH' })
    const id = sent.data!.id as string
    await until(async () => ((await h.circle.getTransfer(id)).status === 'complete' ? true : undefined), 10_000, 'deposit settled')
    await execute(h.store, recordDeposit, { circleTransferId: id, walletId: w.walletId, amount: parseAmount('3'), chain: 'ETH' }, now())
  }
  count += 10

  for (let i = 0; i < 60; i++) {
    const transferId = randomUUID()
    const destination =
      i % 2 === 0 ? { type: 'wallet' as const, walletId: wallets[(i + 1) % 10]!.walletId } : { type: 'blockchain' as const, chain: 'SOL', address: '4Nd1mBQtrMJVYVfKf2PJy9NZUZdTAsp7D4xWLs4gDB4T' }
    await execute(h.store, requestTransfer, { transferId, sourceWalletId: wallets[i % 10]!.walletId, destination, amount: parseAmount(i % 7 === 0 ? '1.11' : '4') }, now())
    operations.push({ type: transfer as never, id: transferId })
  }
  count += 60
  for (let i = 0; i < 20; i++) {
    const redeemId = randomUUID()
    const w = wallets[i % 10]!
    await execute(h.store, requestRedeem, { redeemId, walletId: w.walletId, bankAccountId: banks.get(w.walletId)!, amount: parseAmount(i % 5 === 0 ? '2.22' : '5') }, now())
    operations.push({ type: redeem as never, id: redeemId })
  }
  count += 20
  t.equal(count, 200, '200 operations')
  await until(allTerminal, 180_000, 'every operation terminal')
  const statuses = await Promise.all(operations.map(async (op) => (await fold(h.store, op.type, op.id)).state.status))
  t.ok(statuses.includes('failed') && statuses.includes('completed'), 'both completed and failed outcomes')
  await h.settled()

  const run = await reconcile(h.deps, h.options, 'cli')
  const findings = await listFindings(h.db, run.id, { limit: 200 })
  t.same(findings.items, [], 'no findings')
  t.equal(run.outcome, 'clean')
  t.match(run.checked, { wallets: 10, operations: 0 })
  t.ok(run.listedFrom, 'Circle was listed from the first run’s high-water mark')
  t.ok(run.checked.circleTransfers! >= 150, `Circle's transfers were listed (${run.checked.circleTransfers})`)
  t.ok(run.checked.circlePayouts! >= 20, `Circle's payouts were listed (${run.checked.circlePayouts})`)
})
