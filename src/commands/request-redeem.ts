import { z } from 'zod'
import { bankAccount, type BankAccountEvent, type BankAccountState } from '../events/bank-account.ts'
import { encodeMicros } from '../events/money.ts'
import { redeem, type RedeemEvent, type RedeemState } from '../events/redeem.ts'
import { wallet, type WalletEvent, type WalletState } from '../events/wallet.ts'
import { DomainError } from './errors.ts'
import type { Decider, Decision } from './handler.ts'
import { amount, id, requireActiveWallet, requireFunds, requireNew } from './rules.ts'

export const schema = z.object({ redeemId: id, walletId: id, bankAccountId: id, amount })
export type RequestRedeem = z.infer<typeof schema>
type State = { redeem: RedeemState; wallet: WalletState; bankAccount: BankAccountState }
type Events = { redeem: RedeemEvent; wallet: WalletEvent; bankAccount: BankAccountEvent }

/** Reserves the amount on the wallet in the same atomic append that opens the redeem. */
function decide(command: RequestRedeem, state: State): Decision<Events> {
  requireNew(state.redeem.status, 'redeem', command.redeemId)
  requireActiveWallet(state.wallet, command.walletId)
  const bank = state.bankAccount
  if (bank.status === 'none') throw new DomainError('bank_account_not_found', `bank account ${command.bankAccountId} does not exist`)
  if (bank.status !== 'active') throw new DomainError('bank_account_not_linked', `bank account ${command.bankAccountId} is ${bank.status}, not linked`)
  if (bank.ownerId !== state.wallet.ownerId) {
    throw new DomainError('bank_account_owner_mismatch', `bank account ${command.bankAccountId} does not belong to the wallet's owner`)
  }
  requireFunds(state.wallet, command.walletId, command.amount)
  const amountMicros = encodeMicros(command.amount)
  return {
    redeem: [{ type: 'RedeemRequested', data: { redeemId: command.redeemId, walletId: command.walletId, bankAccountId: command.bankAccountId, amount: amountMicros } }],
    wallet: [{ type: 'FundsReserved', data: { walletId: command.walletId, operationId: command.redeemId, amount: amountMicros } }],
  }
}

export const requestRedeem: Decider<RequestRedeem, State, Events> = {
  schema,
  streams: (c) => ({
    redeem: { type: redeem, id: c.redeemId },
    wallet: { type: wallet, id: c.walletId },
    bankAccount: { type: bankAccount, id: c.bankAccountId },
  }),
  decide,
  correlationId: (c) => c.redeemId,
}
