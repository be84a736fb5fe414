import { parseAmount } from '../../src/events/money.ts'
import type { BankAccountEvent } from '../../src/events/bank-account.ts'
import type { CardEvent } from '../../src/events/card.ts'
import type { WalletEvent } from '../../src/events/wallet.ts'

export const ids = {
  wallet: '11111111-1111-4111-8111-111111111111',
  otherWallet: '22222222-2222-4222-8222-222222222222',
  bank: '33333333-3333-4333-8333-333333333333',
  mint: '44444444-4444-4444-8444-444444444444',
  redeem: '55555555-5555-4555-8555-555555555555',
  transfer: '66666666-6666-4666-8666-666666666666',
  card: '77777777-7777-4777-8777-777777777777',
  address: '88888888-8888-4888-8888-888888888888',
}

export const owner = 'owner-1'
export const usd = (s: string) => parseAmount(s)

export const pendingWallet = (walletId = ids.wallet, ownerId = owner): WalletEvent[] => [
  { type: 'WalletCreationRequested', data: { walletId, ownerId } },
]

export const activeWallet = (walletId = ids.wallet, ownerId = owner, credited = 0n): WalletEvent[] => [
  ...pendingWallet(walletId, ownerId),
  { type: 'WalletCreated', data: { walletId, circleWalletId: `circle-${walletId.slice(0, 8)}` } },
  ...(credited > 0n
    ? [{ type: 'FundsCredited' as const, data: { walletId, operationId: 'seed-mint', amount: credited.toString(), source: 'mint' as const } }]
    : []),
]

export const linkedBank = (bankAccountId = ids.bank, ownerId = owner): BankAccountEvent[] => [
  {
    type: 'BankAccountLinkRequested',
    data: { bankAccountId, ownerId, accountType: 'us', last4: '6789', holderName: 'Ada Lovelace', country: 'US' },
  },
  { type: 'BankAccountSubmitted', data: { bankAccountId, circleWireId: 'wire-1' } },
  { type: 'BankAccountLinked', data: { bankAccountId, circleWireId: 'wire-1' } },
]

export const issuedCard = (cardId = ids.card, walletId = ids.wallet): CardEvent[] => [
  { type: 'CardRequested', data: { cardId, walletId, cardholderName: 'Ada Lovelace' } },
  { type: 'CardIssued', data: { cardId, issuerCardId: 'iss-1', last4: '4242', expMonth: 12, expYear: 2029, network: 'VISA' } },
]
