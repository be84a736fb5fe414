import { randomUUID } from 'node:crypto'
import { createWallet } from '../../src/commands/create-wallet.ts'
import { DomainError } from '../../src/commands/errors.ts'
import { execute } from '../../src/commands/handler.ts'
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
import type { EventStore } from '../../src/events/event-store.ts'
import { meta } from './commands.ts'
import { randomInt } from './seeded-random.ts'

export interface RandomRun {
  wallets: string[]
  accepted: number
  refused: number
  /** Operations by outcome, to show the run covered failures and releases. */
  outcomes: Record<string, number>
}

export interface RandomOptions {
  steps: number
  /** Wallets to spread the operations over (more are never made than this). */
  maxWallets?: number
  /** Chance in 100 that an outcome is a failure. */
  failurePercent?: number
}

/**
 * Runs a random sequence of commands through the command handler, as the API and the process
 * manager would: wallets, mints, deposits, internal and on-chain transfers, redeems; outcomes
 * complete or fail (failed redeems after step 1 go through the compensation path). Commands refused
 * for insufficient funds count as refused; anything else refused is a bug and throws.
 */
export async function randomOperations(store: EventStore, options: RandomOptions): Promise<RandomRun> {
  const wallets: string[] = []
  const bankOf = new Map<string, string>()
  const open: { kind: 'mint' | 'transfer' | 'redeem'; id: string }[] = []
  const pick = <T>(xs: T[]): T => xs[randomInt(xs.length)]!
  const amount = () => BigInt(randomInt(1, 5_000)) * 10_000n
  const outcomes: Record<string, number> = {}
  const count = (k: string) => (outcomes[k] = (outcomes[k] ?? 0) + 1)
  const maxWallets = options.maxWallets ?? 30
  const failurePercent = options.failurePercent ?? 25
  let accepted = 0
  let refused = 0

  for (let i = 0; i < options.steps; i++) {
    const roll = randomInt(100)
    try {
      if (wallets.length < 2 || (roll < 5 && wallets.length < maxWallets)) {
        const walletId = randomUUID()
        const ownerId = `owner-${walletId}`
        await execute(store, createWallet, { walletId, ownerId }, meta())
        await execute(store, recordWalletOutcome, { walletId, outcome: { type: 'created', circleWalletId: `cw-${walletId}` } }, meta({ actor: 'process-manager' }))
        const bankAccountId = randomUUID()
        await execute(store, linkBankAccount, { bankAccountId, ownerId, accountType: 'us', last4: '1234', holderName: 'H', country: 'US' }, meta())
        await execute(store, recordBankAccountOutcome, { bankAccountId, outcome: { type: 'linked', circleWireId: `w-${bankAccountId}` } }, meta({ actor: 'process-manager' }))
        wallets.push(walletId)
        bankOf.set(walletId, bankAccountId)
      } else if (roll < 25) {
        const mintId = randomUUID()
        await execute(store, requestMint, { mintId, walletId: pick(wallets), amount: amount() }, meta())
        open.push({ kind: 'mint', id: mintId })
      } else if (roll < 32) {
        await execute(store, recordDeposit, { circleTransferId: randomUUID(), walletId: pick(wallets), amount: amount(), ...(roll < 29 ? { chain: 'SOL' } : {}) }, meta({ actor: 'circle-webhook' }))
        count('deposit')
      } else if (roll < 52) {
        const transferId = randomUUID()
        const source = pick(wallets)
        const destination = pick(wallets.filter((w) => w !== source))
        const to = roll < 42 ? { type: 'wallet' as const, walletId: destination } : { type: 'blockchain' as const, chain: 'SOL', address: '4Nd1mBQtrMJVYVfKf2PJy9NZUZdTAsp7D4xWLs4gDB4T' }
        await execute(store, requestTransfer, { transferId, sourceWalletId: source, destination: to, amount: amount() }, meta())
        open.push({ kind: 'transfer', id: transferId })
      } else if (roll < 62) {
        const redeemId = randomUUID()
        const walletId = pick(wallets)
        await execute(store, requestRedeem, { redeemId, walletId, bankAccountId: bankOf.get(walletId)!, amount: amount() }, meta())
        open.push({ kind: 'redeem', id: redeemId })
      } else if (open.length > 0) {
        const op = open.splice(randomInt(open.length), 1)[0]!
        const fail = randomInt(100) < failurePercent
        const pm = meta({ actor: 'process-manager' })
        const failure = { code: 'x', message: 'x' }
        if (op.kind === 'mint') {
          await execute(store, recordMintOutcome, { mintId: op.id, outcome: fail ? { type: 'failed', failure } : { type: 'completed', circleTransferId: `ct-${op.id}` } }, pm)
        } else if (op.kind === 'transfer') {
          await execute(store, recordTransferOutcome, { transferId: op.id, outcome: fail ? { type: 'failed', failure } : { type: 'completed', circleTransferId: `ct-${op.id}` } }, pm)
        } else {
          const path: RecordRedeemOutcome['outcome'][] = fail
            ? [{ type: 'transfer_completed', circleTransferId: `a-${op.id}` }, { type: 'payout_failed', failure }, { type: 'compensation_completed', circleTransferId: `b-${op.id}` }]
            : [{ type: 'transfer_completed', circleTransferId: `a-${op.id}` }, { type: 'payout_completed', circlePayoutId: `p-${op.id}` }]
          for (const outcome of path) await execute(store, recordRedeemOutcome, { redeemId: op.id, outcome }, meta({ actor: 'process-manager' }))
        }
        count(`${op.kind}_${fail ? 'failed' : 'completed'}`)
      }
      accepted++
    } catch (err) {
      if (!(err instanceof DomainError) || err.code !== 'insufficient_funds') throw err
      refused++
    }
  }
  return { wallets, accepted, refused, outcomes }
}
