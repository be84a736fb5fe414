import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { randomUUID } from 'node:crypto'
import path from 'node:path'
import t from 'tap'
import { createWallet } from '../../src/commands/create-wallet.ts'
import { execute } from '../../src/commands/handler.ts'
import { fold } from '../../src/events/fold.ts'
import { linkBankAccount } from '../../src/commands/link-bank-account.ts'
import { recordBankAccountOutcome } from '../../src/commands/record-bank-account-outcome.ts'
import { requestMint } from '../../src/commands/request-mint.ts'
import { requestRedeem } from '../../src/commands/request-redeem.ts'
import { PostgresEventStore } from '../../src/adapters/event-store/postgres.ts'
import { bankAccount } from '../../src/events/bank-account.ts'
import { mint } from '../../src/events/mint.ts'
import { parseAmount } from '../../src/events/money.ts'
import { redeem } from '../../src/events/redeem.ts'
import { available, wallet } from '../../src/events/wallet.ts'
import { circleKey } from '../../src/commands/ids.ts'
import { meta } from '../helpers/commands.ts'
import { simulatedCircle, until } from '../helpers/circle.ts'
import { testDatabase } from '../helpers/database.ts'

const root = path.resolve(import.meta.dirname, '../..')

t.test('a process manager killed between a Circle call and its record resumes without a second transfer or payout', async (t) => {
  const { url: databaseUrl, pool } = await testDatabase(t)
  const store = new PostgresEventStore(pool, { pollIntervalMs: 100 })
  t.teardown(() => store.close())
  const { sim, url, circle } = await simulatedCircle(t)

  const children: ChildProcess[] = []
  const startChild = () => {
    const child = spawn(process.execPath, ['src/main.ts', '--role', 'process-manager'], {
      cwd: root,
      stdio: ['ignore', 'ignore', 'inherit'],
      env: {
        PATH: process.env.PATH,
        DATABASE_URL: databaseUrl,
        CIRCLE_API_KEY: 'SIM_KEY',
        CIRCLE_BASE_URL: url,
        CARD_ISSUER_URL: url,
        CARD_ISSUER_API_KEY: 'SIM_KEY',
        CIRCLE_POLL_INTERVAL_MS: '100',
        CIRCLE_TIMEOUT_MS: '30000',
        LOG_LEVEL: 'silent',
      },
    })
    children.push(child)
    return child
  }
  t.teardown(() => children.forEach((c) => c.kill('SIGKILL')))
  startChild()

  const walletId = randomUUID()
  await execute(store, createWallet, { walletId, ownerId: 'owner-1' }, meta())
  await until(async () => ((await fold(store, wallet, walletId)).state.status === 'active' ? true : undefined), 20_000, 'wallet active')
  const bankAccountId = randomUUID()
  await execute(store, linkBankAccount, { bankAccountId, ownerId: 'owner-1', accountType: 'us', last4: '0010', holderName: 'Ada', country: 'US' }, meta())
  const wire = await circle.createWireAccount({
    idempotencyKey: randomUUID(),
    details: { accountNumber: '12340010', routingNumber: '121000248', billingDetails: { name: 'Ada', line1: '1 Main', city: 'Boston', postalCode: '02201', country: 'US' }, bankAddress: { country: 'US' } },
  })
  await execute(store, recordBankAccountOutcome, { bankAccountId, outcome: { type: 'submitted', circleWireId: wire.id } }, meta())
  const seed = randomUUID()
  await execute(store, requestMint, { mintId: seed, walletId, amount: parseAmount('100') }, meta())
  await until(async () => ((await fold(store, mint, seed)).state.status === 'completed' ? true : undefined), 20_000, 'seed mint')
  await until(async () => ((await fold(store, bankAccount, bankAccountId)).state.status === 'active' ? true : undefined), 20_000, 'bank linked')

  // Circle receives the transfers but holds its answers: the child has called and not yet recorded.
  sim.setFaults({ holdCreates: { kinds: ['transfer'], ms: 60_000 } })
  const mintId = randomUUID()
  const redeemId = randomUUID()
  await execute(store, requestMint, { mintId, walletId, amount: parseAmount('50') }, meta())
  await execute(store, requestRedeem, { redeemId, walletId, bankAccountId, amount: parseAmount('40') }, meta())
  const mintKey = circleKey(mintId, 'mint')
  const redeemKey = circleKey(redeemId, 'to-master')
  await until(async () => ((await sim.creations()).some((c) => c.idempotencyKey === mintKey) && (await sim.creations()).some((c) => c.idempotencyKey === redeemKey) ? true : undefined), 20_000, 'both Circle calls sent')

  const first = children[0]!
  first.kill('SIGKILL')
  await once(first, 'exit')
  t.notOk((await store.readStream(mint.streamName(mintId))).some((e) => e.type === 'MintSubmitted'), 'the mint outcome was not recorded before the kill')
  t.notOk((await store.readStream(redeem.streamName(redeemId))).some((e) => e.type === 'RedeemTransferSubmitted'), 'nor the redeem’s')

  sim.setFaults({})
  startChild()
  const finalMint = await until(async () => {
    const { state } = await fold(store, mint, mintId)
    return state.status === 'completed' || state.status === 'failed' ? state : undefined
  }, 30_000, 'mint terminal after restart')
  const finalRedeem = await until(async () => {
    const { state } = await fold(store, redeem, redeemId)
    return state.status === 'completed' || state.status === 'failed' ? state : undefined
  }, 30_000, 'redeem terminal after restart')
  t.equal(finalMint.status, 'completed', 'the mint completed')
  t.equal(finalRedeem.status, 'completed', 'the redeem completed')

  const perKey = new Map<string, number>()
  for (const c of (await sim.creations())) perKey.set(c.idempotencyKey, (perKey.get(c.idempotencyKey) ?? 0) + 1)
  t.ok([...perKey.values()].every((n) => n === 1), 'exactly one Circle resource per idempotency key')
  t.ok((await sim.creations()).find((c) => c.idempotencyKey === mintKey)!.requests >= 2, 'the restarted manager re-sent the mint transfer with the same key')
  t.ok((await sim.creations()).find((c) => c.idempotencyKey === redeemKey)!.requests >= 2, 'and the redeem transfer')
  t.equal((await sim.creations()).filter((c) => c.kind === 'transfer').length, 3, 'three transfers: seed mint, mint, redeem step 1')
  t.equal((await sim.creations()).filter((c) => c.kind === 'payout').length, 1, 'one payout')
  const w = (await fold(store, wallet, walletId)).state
  t.equal(available(w), parseAmount('110'), 'the ledger: 100 + 50 - 40')
  t.equal(await sim.balanceOf(w.circleWalletId!), parseAmount('110'), 'Circle agrees')
})
