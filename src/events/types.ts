import type { BankAccountEvent } from './bank-account.ts'
import type { CardEvent } from './card.ts'
import type { DeadLetterEvent } from './dead-letter.ts'
import type { DepositEvent } from './deposit.ts'
import type { MintEvent } from './mint.ts'
import type { ReconciliationEvent } from './reconciliation.ts'
import type { RedeemEvent } from './redeem.ts'
import type { TransferEvent } from './transfer.ts'
import type { WalletEvent } from './wallet.ts'

/** Every domain event of every stream. */
export type DomainEvent = WalletEvent | BankAccountEvent | MintEvent | RedeemEvent | TransferEvent | DepositEvent | CardEvent | DeadLetterEvent | ReconciliationEvent

// A Record keyed by each union's types: the compiler refuses a list that misses a type or names one
// that does not exist, so a consumer that must see every event (the audit log) cannot drift.
const listOf = <T extends string>(types: Record<T, true>): T[] => Object.keys(types) as T[]

export const walletEventTypes = listOf<WalletEvent['type']>({
  WalletCreationRequested: true,
  WalletCreated: true,
  WalletCreationFailed: true,
  DepositAddressRequested: true,
  DepositAddressCreated: true,
  DepositAddressFailed: true,
  FundsReserved: true,
  ReservationReleased: true,
  FundsDebited: true,
  FundsCredited: true,
  OperationNeedsAttention: true,
  OperationAttentionCleared: true,
})

export const bankAccountEventTypes = listOf<BankAccountEvent['type']>({
  BankAccountLinkRequested: true,
  BankAccountSubmitted: true,
  BankAccountLinked: true,
  BankAccountLinkFailed: true,
  OperationNeedsAttention: true,
  OperationAttentionCleared: true,
})

export const mintEventTypes = listOf<MintEvent['type']>({
  MintRequested: true,
  MintTreasuryChecked: true,
  MintSubmitted: true,
  MintCompleted: true,
  MintFailed: true,
  OperationNeedsAttention: true,
  OperationAttentionCleared: true,
})

export const redeemEventTypes = listOf<RedeemEvent['type']>({
  RedeemRequested: true,
  RedeemTransferSubmitted: true,
  RedeemTransferCompleted: true,
  RedeemPayoutSubmitted: true,
  RedeemCompleted: true,
  RedeemPayoutFailed: true,
  RedeemCompensationSubmitted: true,
  RedeemCompensationFailed: true,
  RedeemFailed: true,
  OperationNeedsAttention: true,
  OperationAttentionCleared: true,
})

export const transferEventTypes = listOf<TransferEvent['type']>({
  TransferRequested: true,
  TransferSubmitted: true,
  TransferCompleted: true,
  TransferFailed: true,
  OperationNeedsAttention: true,
  OperationAttentionCleared: true,
})

export const depositEventTypes = listOf<DepositEvent['type']>({ DepositCompleted: true })

export const cardEventTypes = listOf<CardEvent['type']>({
  CardRequested: true,
  CardIssued: true,
  CardIssueFailed: true,
  CardFrozen: true,
  CardUnfrozen: true,
  CardClosed: true,
  CardStatusChanged: true,
  CardActionRequested: true,
  CardActionFailed: true,
  OperationNeedsAttention: true,
  OperationAttentionCleared: true,
})

export const deadLetterEventTypes = listOf<DeadLetterEvent['type']>({ DeadLetterRecorded: true, DeadLetterReplayed: true, DeadLetterDiscarded: true })

export const reconciliationEventTypes = listOf<ReconciliationEvent['type']>({ ReconciliationRunStarted: true, ReconciliationRunCompleted: true })

/** Every event type the service writes, stream by stream (the attention events appear on several streams, listed once). */
export const allEventTypes: DomainEvent['type'][] = [
  ...new Set([
    ...walletEventTypes,
    ...bankAccountEventTypes,
    ...mintEventTypes,
    ...redeemEventTypes,
    ...transferEventTypes,
    ...depositEventTypes,
    ...cardEventTypes,
    ...deadLetterEventTypes,
    ...reconciliationEventTypes,
  ]),
]
