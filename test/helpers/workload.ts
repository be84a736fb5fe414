import { randomUUID } from 'node:crypto'
import { execute } from '../../src/commands/handler.ts'
import { recordBankAccountOutcome } from '../../src/commands/record-bank-account-outcome.ts'
import { recordCardOutcome } from '../../src/commands/record-card-outcome.ts'
import { recordDeposit } from '../../src/commands/record-deposit.ts'
import { recordMintOutcome } from '../../src/commands/record-mint-outcome.ts'
import { recordRedeemOutcome } from '../../src/commands/record-redeem-outcome.ts'
import { recordTransferOutcome } from '../../src/commands/record-transfer-outcome.ts'
import { parseAmount } from '../../src/events/money.ts'
import { meta } from './commands.ts'
import type { httpHarness } from './http.ts'

type Harness = Awaited<ReturnType<typeof httpHarness>>

/** A seeded pseudo-random sequence, so a failing run can be repeated. */
export function seeded(seed: number) {
  let s = seed >>> 0
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0
    return s / 2 ** 32
  }
}

/**
 * Mixed operations through the API, their outcomes recorded the way the process manager records
 * Circle's answers: wallets, bank accounts, mints, transfers (internal and on-chain), redeems
 * (completed, failed, compensated), cards (issued, frozen, closed), deposits. Returns how many
 * requests were sent.
 */
export async function mixedOperations(h: Harness, count: number, seed = 42): Promise<number> {
  const random = seeded(seed)
  const pick = <T>(list: T[]): T => list[Math.floor(random() * list.length)]!
  const pm = () => meta({ actor: 'process-manager' })
  const wallets = [await h.activeWallet('owner-1', '500'), await h.activeWallet('owner-2', '500'), await h.activeWallet('owner-1')]
  const bank = (await h.post('/bank-accounts', {
    ownerId: 'owner-1',
    accountNumber: '12340010',
    routingNumber: '121000248',
    billingDetails: { name: 'Ada Lovelace', line1: '1 Main St', city: 'Boston', postalCode: '02201', country: 'US', district: 'MA' },
    bankAddress: { bankName: 'Wells Fargo', city: 'SF', country: 'US' },
  })).json()
  await execute(h.store, recordBankAccountOutcome, { bankAccountId: bank.id, outcome: { type: 'linked', circleWireId: bank.circleWireId } }, pm())
  let sent = 0
  for (let i = 0; i < count; i++) {
    const r = random()
    const walletId = pick(wallets)
    const amount = `${1 + Math.floor(random() * 9)}.${Math.floor(random() * 100).toString().padStart(2, '0')}`
    sent++
    if (r < 0.25) {
      const mint = (await h.post('/mint', { walletId, amount })).json()
      if (mint.id) await execute(h.store, recordMintOutcome, { mintId: mint.id, outcome: random() < 0.85 ? { type: 'completed', circleTransferId: `ct-${mint.id}` } : { type: 'failed', failure: { code: 'circle_1', message: 'no' } } }, pm())
    } else if (r < 0.5) {
      const destination = random() < 0.5 ? { type: 'wallet', walletId: pick(wallets.filter((w) => w !== walletId)) } : { type: 'blockchain', chain: 'SOL', address: '4Nd1mBQtrMJVYVfKf2PJy9NZUZdTAsp7D4xWLs4gDB4T' }
      const transfer = (await h.post('/transfers', { sourceWalletId: walletId, destination, amount })).json()
      if (!transfer.id) continue
      await execute(h.store, recordTransferOutcome, { transferId: transfer.id, outcome: { type: 'submitted', circleTransferId: `ct-${transfer.id}` } }, pm())
      const outcome = random() < 0.8 ? { type: 'completed' as const, circleTransferId: `ct-${transfer.id}`, txHash: `0x${'ab'.repeat(32)}` } : { type: 'failed' as const, failure: { code: 'circle_2', message: 'no' } }
      await execute(h.store, recordTransferOutcome, { transferId: transfer.id, outcome }, pm())
    } else if (r < 0.65 && walletId === wallets[0]) {
      const redeem = (await h.post('/redeem', { walletId, bankAccountId: bank.id, amount })).json()
      if (!redeem.id) continue
      const ct = `ct-${redeem.id}`
      const record = (outcome: Parameters<typeof recordRedeemOutcome.decide>[0]['outcome']) => execute(h.store, recordRedeemOutcome, { redeemId: redeem.id, outcome }, pm())
      const fate = random()
      if (fate < 0.2) await record({ type: 'transfer_failed', failure: { code: 'circle_3', message: 'no' } })
      else {
        await record({ type: 'transfer_completed', circleTransferId: ct })
        if (fate < 0.7) await record({ type: 'payout_completed', circlePayoutId: `po-${redeem.id}` })
        else {
          await record({ type: 'payout_failed', failure: { code: 'payout_failed', message: 'bank refused' } })
          await record({ type: 'compensation_completed', circleTransferId: `comp-${redeem.id}` })
        }
      }
    } else if (r < 0.8) {
      const card = (await h.post('/cards', { walletId, cardholderName: 'Ada Lovelace' })).json()
      if (!card.id) continue
      await execute(h.store, recordCardOutcome, { cardId: card.id, outcome: { type: 'issued', issuerCardId: `iss-${card.id}`, last4: '4242', expMonth: 12, expYear: 2030, network: 'VISA' } }, pm())
      if (random() < 0.5) await h.client.call({ method: 'POST', url: `/cards/${card.id}/freeze`, headers: { authorization: 'Bearer dev-backend-key' } })
    } else if (r < 0.9) {
      await execute(h.store, recordDeposit, { circleTransferId: `dep-${randomUUID()}`, walletId, amount: parseAmount(amount), chain: 'SOL' }, pm())
    } else {
      await h.post('/wallets/address', { walletId, chain: 'SOL' })
    }
  }
  await h.settle()
  return sent
}
