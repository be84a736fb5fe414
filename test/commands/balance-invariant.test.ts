import { randomUUID } from 'node:crypto'
import t from 'tap'
import { MemoryEventStore } from '../../src/adapters/event-store/memory.ts'
import { createWallet } from '../../src/commands/create-wallet.ts'
import { DomainError } from '../../src/commands/errors.ts'
import { execute } from '../../src/commands/handler.ts'
import { fold } from '../../src/events/fold.ts'
import { linkBankAccount } from '../../src/commands/link-bank-account.ts'
import { recordBankAccountOutcome } from '../../src/commands/record-bank-account-outcome.ts'
import { recordDeposit } from '../../src/commands/record-deposit.ts'
import { recordMintOutcome } from '../../src/commands/record-mint-outcome.ts'
import { recordRedeemOutcome, type RecordRedeemOutcome } from '../../src/commands/record-redeem-outcome.ts'
import { recordTransferOutcome } from '../../src/commands/record-transfer-outcome.ts'
import { recordWalletOutcome } from '../../src/commands/record-wallet-outcome.ts'
import { requestMint } from '../../src/commands/request-mint.ts'
import { requestRedeem } from '../../src/commands/request-redeem.ts'
import { requestTransfer } from '../../src/commands/request-transfer.ts'
import { decodeMicros } from '../../src/events/money.ts'
import { available, reserved, wallet } from '../../src/events/wallet.ts'
import { meta } from '../helpers/commands.ts'
import { randomInt } from '../helpers/seeded-random.ts'

t.test('after a long random sequence of valid commands, every wallet balances', async (t) => {
  const store = new MemoryEventStore()
  const wallets: string[] = []
  const bankOf = new Map<string, string>()
  const open: { kind: 'mint' | 'transfer' | 'redeem'; id: string; step: number }[] = []
  const pick = <T>(xs: T[]): T => xs[randomInt(xs.length)]!
  const amount = () => BigInt(randomInt(1, 5_000)) * 10_000n
  let accepted = 0
  let refused = 0

  const steps = Array.from({ length: 1500 }, () => randomInt(100))
  for (const roll of steps) {
    try {
      if (wallets.length < 2 || roll < 5) {
        const walletId = randomUUID()
        const ownerId = `owner-${walletId}`
        await execute(store, createWallet, { walletId, ownerId }, meta())
        await execute(store, recordWalletOutcome, { walletId, outcome: { type: 'created', circleWalletId: `cw-${walletId}` } }, meta())
        const bankAccountId = randomUUID()
        await execute(store, linkBankAccount, { bankAccountId, ownerId, accountType: 'us', last4: '1234', holderName: 'H', country: 'US' }, meta())
        await execute(store, recordBankAccountOutcome, { bankAccountId, outcome: { type: 'linked', circleWireId: `w-${bankAccountId}` } }, meta())
        wallets.push(walletId)
        bankOf.set(walletId, bankAccountId)
      } else if (roll < 25) {
        const mintId = randomUUID()
        await execute(store, requestMint, { mintId, walletId: pick(wallets), amount: amount() }, meta())
        open.push({ kind: 'mint', id: mintId, step: 0 })
      } else if (roll < 32) {
        await execute(store, recordDeposit, { circleTransferId: randomUUID(), walletId: pick(wallets), amount: amount() }, meta())
      } else if (roll < 52) {
        const transferId = randomUUID()
        const source = pick(wallets)
        const destination = pick(wallets.filter((w) => w !== source))
        await execute(store, requestTransfer, { transferId, sourceWalletId: source, destination: roll < 42 ? { type: 'wallet', walletId: destination } : { type: 'blockchain', chain: 'SOL', address: '4Nd1mBQtrMJVYVfKf2PJy9NZUZdTAsp7D4xWLs4gDB4T' }, amount: amount() }, meta())
        open.push({ kind: 'transfer', id: transferId, step: 0 })
      } else if (roll < 62) {
        const redeemId = randomUUID()
        const walletId = pick(wallets)
        await execute(store, requestRedeem, { redeemId, walletId, bankAccountId: bankOf.get(walletId)!, amount: amount() }, meta())
        open.push({ kind: 'redeem', id: redeemId, step: 0 })
      } else if (open.length > 0) {
        const op = open.splice(randomInt(open.length), 1)[0]!
        const fail = randomInt(4) === 0
        if (op.kind === 'mint') {
          const outcome = fail ? { type: 'failed' as const, failure: { code: 'x', message: 'x' } } : { type: 'completed' as const, circleTransferId: `ct-${op.id}` }
          await execute(store, recordMintOutcome, { mintId: op.id, outcome }, meta())
        } else if (op.kind === 'transfer') {
          const outcome = fail ? { type: 'failed' as const, failure: { code: 'x', message: 'x' } } : { type: 'completed' as const, circleTransferId: `ct-${op.id}` }
          await execute(store, recordTransferOutcome, { transferId: op.id, outcome }, meta())
        } else {
          const path: RecordRedeemOutcome['outcome'][] = fail
            ? [{ type: 'transfer_completed', circleTransferId: `a-${op.id}` }, { type: 'payout_failed', failure: { code: 'x', message: 'x' } }, { type: 'compensation_completed', circleTransferId: `b-${op.id}` }]
            : [{ type: 'transfer_completed', circleTransferId: `a-${op.id}` }, { type: 'payout_completed', circlePayoutId: `p-${op.id}` }]
          for (const outcome of path) await execute(store, recordRedeemOutcome, { redeemId: op.id, outcome }, meta())
        }
      }
      accepted++
    } catch (err) {
      if (!(err instanceof DomainError) || err.code !== 'insufficient_funds') throw err
      refused++
    }
  }
  t.ok(accepted > 1000, `${accepted} commands accepted, ${refused} refused for insufficient funds`)

  const all = await store.readAll({ maxCount: 1_000_000 })
  for (const walletId of wallets) {
    const { state } = await fold(store, wallet, walletId)
    const credited = all.events
      .filter((e) => e.type === 'FundsCredited' && e.data.walletId === walletId)
      .reduce((sum, e) => sum + decodeMicros(e.data.amount as string), 0n)
    const debited = state.debited
    t.equal(available(state) + reserved(state) + debited, credited, `wallet ${walletId.slice(0, 8)}: available + reserved + debited = credited`)
    t.ok(available(state) >= 0n, 'available never below zero')
  }
})
