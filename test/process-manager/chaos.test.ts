import { randomUUID } from 'node:crypto'
import t from 'tap'
import { createWallet } from '../../src/commands/create-wallet.ts'
import { execute } from '../../src/commands/handler.ts'
import { fold, type AnyEvent } from '../../src/events/fold.ts'
import { linkBankAccount } from '../../src/commands/link-bank-account.ts'
import { recordBankAccountOutcome } from '../../src/commands/record-bank-account-outcome.ts'
import { requestMint } from '../../src/commands/request-mint.ts'
import { requestRedeem } from '../../src/commands/request-redeem.ts'
import { requestTransfer } from '../../src/commands/request-transfer.ts'
import { bankAccount } from '../../src/events/bank-account.ts'
import { isTerminal, type StreamType } from '../../src/events/event.ts'
import { mint } from '../../src/events/mint.ts'
import { parseAmount } from '../../src/events/money.ts'
import { redeem } from '../../src/events/redeem.ts'
import { transfer } from '../../src/events/transfer.ts'
import { wallet } from '../../src/events/wallet.ts'
import { circleKey } from '../../src/commands/ids.ts'
import { meta } from '../helpers/commands.ts'
import { processManagerHarness, until } from '../helpers/circle.ts'
import { randomInt } from '../helpers/seeded-random.ts'

t.test('at a 30% transient error rate with random 429s, 100 mixed operations all end, one Circle resource per step', async (t) => {
  const h = await processManagerHarness(t, { settleMs: 20 })
  h.sim.setFaults({ errorRate: 0.3, rate429: 0.1 })
  const expectedKeys = new Set<string>()
  const operations: { type: StreamType<{ status: string }, AnyEvent>; id: string }[] = []
  const allTerminal = async () => {
    for (const op of operations) if (!isTerminal((await fold(h.store, op.type, op.id)).state.status as never)) return undefined
    return true
  }

  // 10 wallets and their linked bank accounts.
  const wallets: string[] = []
  const banks = new Map<string, string>()
  for (let i = 0; i < 10; i++) {
    const walletId = randomUUID()
    await execute(h.store, createWallet, { walletId, ownerId: `owner-${i}` }, meta())
    expectedKeys.add(circleKey(walletId, 'create-wallet'))
    wallets.push(walletId)
  }
  await until(async () => {
    for (const w of wallets) if ((await fold(h.store, wallet, w)).state.status !== 'active') return undefined
    return true
  }, 60_000, 'wallets active')
  h.sim.setFaults({})
  for (let i = 0; i < 10; i++) {
    const bankAccountId = randomUUID()
    await execute(h.store, linkBankAccount, { bankAccountId, ownerId: `owner-${i}`, accountType: 'us', last4: '0010', holderName: 'H', country: 'US' }, meta())
    const wire = await h.circle.createWireAccount({
      idempotencyKey: randomUUID(),
      details: { accountNumber: '12340010', routingNumber: '121000248', billingDetails: { name: 'H', line1: 'l', city: 'c', postalCode: '1', country: 'US' }, bankAddress: { country: 'US' } },
    })
    await execute(h.store, recordBankAccountOutcome, { bankAccountId, outcome: { type: 'submitted', circleWireId: wire.id } }, meta())
    banks.set(wallets[i]!, bankAccountId)
  }
  await until(async () => {
    for (const b of banks.values()) if ((await fold(h.store, bankAccount, b)).state.status !== 'active') return undefined
    return true
  }, 30_000, 'banks linked')
  h.sim.setFaults({ errorRate: 0.3, rate429: 0.1 })

  // 40 mints, then 30 transfers and 20 redeems: 100 operations with the wallet creations.
  for (let i = 0; i < 40; i++) {
    const mintId = randomUUID()
    await execute(h.store, requestMint, { mintId, walletId: wallets[i % 10]!, amount: parseAmount('50') }, meta())
    expectedKeys.add(circleKey(mintId, 'mint'))
    operations.push({ type: mint as never, id: mintId })
  }
  await until(allTerminal, 90_000, 'mints terminal')
  for (let i = 0; i < 30; i++) {
    const transferId = randomUUID()
    const source = wallets[i % 10]!
    const destination = randomInt(2) === 0 ? { type: 'wallet' as const, walletId: wallets[(i + 1) % 10]! } : { type: 'blockchain' as const, chain: 'SOL', address: '4Nd1mBQtrMJVYVfKf2PJy9NZUZdTAsp7D4xWLs4gDB4T' }
    await execute(h.store, requestTransfer, { transferId, sourceWalletId: source, destination, amount: parseAmount('5') }, meta())
    expectedKeys.add(circleKey(transferId, 'transfer'))
    operations.push({ type: transfer as never, id: transferId })
  }
  for (let i = 0; i < 20; i++) {
    const redeemId = randomUUID()
    const walletId = wallets[i % 10]!
    await execute(h.store, requestRedeem, { redeemId, walletId, bankAccountId: banks.get(walletId)!, amount: parseAmount('10') }, meta())
    expectedKeys.add(circleKey(redeemId, 'to-master'))
    expectedKeys.add(circleKey(redeemId, 'payout'))
    operations.push({ type: redeem as never, id: redeemId })
  }
  await until(allTerminal, 120_000, 'all operations terminal')

  const statuses = await Promise.all(operations.map(async (op) => (await fold(h.store, op.type, op.id)).state.status))
  t.equal(operations.length + wallets.length, 100, '100 operations')
  t.ok(statuses.every((s) => s === 'completed'), `every operation completed (${statuses.filter((s) => s !== 'completed').length} did not)`)
  const perKey = new Map<string, number>()
  for (const c of (await h.sim.creations())) perKey.set(c.idempotencyKey, (perKey.get(c.idempotencyKey) ?? 0) + 1)
  const ours = [...perKey.keys()].filter((k) => expectedKeys.has(k))
  t.equal(ours.length, expectedKeys.size, 'every operation step created its Circle resource')
  t.ok(ours.every((k) => perKey.get(k) === 1), 'exactly one Circle resource per operation step')
  const retried = (await h.sim.creations()).filter((c) => expectedKeys.has(c.idempotencyKey) && c.requests > 1).length
  t.comment(`${retried} steps needed more than one request with the same key; ${h.sim.received.length} API requests in all`)
  t.ok(retried > 0, 'the faults did force retries with the same key')
})
