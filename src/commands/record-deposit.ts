import { z } from 'zod'
import { deposit, type DepositCompleted, type DepositEvent, type DepositState } from '../events/deposit.ts'
import { encodeMicros } from '../events/money.ts'
import { wallet, type WalletEvent, type WalletState } from '../events/wallet.ts'
import { DomainError } from './errors.ts'
import type { Decider, Decision } from './handler.ts'
import { outcomeCommandId } from './ids.ts'
import { amount, id } from './rules.ts'

export const schema = z.object({
  circleTransferId: z.string().min(1).max(64),
  walletId: id,
  amount,
  chain: z.string().min(1).max(16).optional(),
  txHash: z.string().min(1).max(256).optional(),
})
export type RecordDeposit = z.infer<typeof schema>

/** The command id a deposit is recorded under, by the deposit poller and the webhook worker alike: either's record is the other's repeat. */
export const depositCommandId = (circleTransferId: string) => outcomeCommandId(deposit.streamName(circleTransferId), 'completed')
type State = { deposit: DepositState; wallet: WalletState }
type Events = { deposit: DepositEvent; wallet: WalletEvent }

/** An inbound deposit credits the wallet once, keyed by Circle's transfer id. */
function decide(command: RecordDeposit, state: State): Decision<Events> {
  const { circleTransferId, walletId } = command
  if (state.deposit.status === 'completed') {
    if (state.deposit.walletId === walletId && state.deposit.amount === command.amount) return { deposit: [], wallet: [] }
    throw new DomainError('outcome_conflict', `deposit ${circleTransferId} was already recorded with another wallet or amount`)
  }
  if (state.wallet.status === 'none') throw new DomainError('wallet_not_found', `wallet ${walletId} does not exist`)
  const amountMicros = encodeMicros(command.amount)
  const data: DepositCompleted['data'] = { depositId: circleTransferId, walletId, circleTransferId, amount: amountMicros }
  if (command.chain !== undefined) data.chain = command.chain
  if (command.txHash !== undefined) data.txHash = command.txHash
  return {
    deposit: [{ type: 'DepositCompleted', data }],
    wallet: [{ type: 'FundsCredited', data: { walletId, operationId: `deposit:${circleTransferId}`, amount: amountMicros, source: 'deposit' } }],
  }
}

export const recordDeposit: Decider<RecordDeposit, State, Events> = {
  schema,
  streams: (c) => ({ deposit: { type: deposit, id: c.circleTransferId }, wallet: { type: wallet, id: c.walletId } }),
  decide,
  correlationId: (c) => c.circleTransferId,
}
