import { evolveAttention, type AttentionEvent, type AttentionState } from './attention.ts'
import type { Event, Failure, StatusUnion, StreamType } from './event.ts'
import { decodeMicros } from './money.ts'
import * as streams from './stream-name.ts'

/** Amounts in wallet events are micro-unit integer strings (see money.ts). */
export type WalletCreationRequested = Event<'WalletCreationRequested', { walletId: string; ownerId: string; description?: string }>
export type WalletCreated = Event<'WalletCreated', { walletId: string; circleWalletId: string }>
export type WalletCreationFailed = Event<'WalletCreationFailed', { walletId: string; failure: Failure }>
export type DepositAddressRequested = Event<'DepositAddressRequested', { walletId: string; addressId: string; chain: string }>
export type DepositAddressCreated = Event<
  'DepositAddressCreated',
  { walletId: string; addressId: string; chain: string; address: string; addressTag?: string }
>
export type DepositAddressFailed = Event<'DepositAddressFailed', { walletId: string; addressId: string; chain: string; failure: Failure }>
/** Funds set aside for an operation (redeem, transfer); they leave `available` but stay in `total`. */
export type FundsReserved = Event<'FundsReserved', { walletId: string; operationId: string; amount: string }>
/** A reservation given back after its operation failed. */
export type ReservationReleased = Event<'ReservationReleased', { walletId: string; operationId: string; amount: string }>
/** A reservation consumed: the funds left the wallet. */
export type FundsDebited = Event<'FundsDebited', { walletId: string; operationId: string; amount: string }>
/** Funds arrived: a mint, an inbound deposit or an internal transfer. */
export type FundsCredited = Event<
  'FundsCredited',
  { walletId: string; operationId: string; amount: string; source: 'mint' | 'deposit' | 'transfer' }
>

export type WalletEvent =
  | WalletCreationRequested
  | WalletCreated
  | WalletCreationFailed
  | DepositAddressRequested
  | DepositAddressCreated
  | DepositAddressFailed
  | FundsReserved
  | ReservationReleased
  | FundsDebited
  | FundsCredited
  | AttentionEvent

export type WalletStatus = 'none' | 'pending' | 'active' | 'failed'
export type AddressStatus = 'pending' | 'active' | 'failed'

export interface DepositAddress {
  addressId: string
  chain: string
  status: AddressStatus
  address?: string
  addressTag?: string
  failure?: Failure
}

/** Balances and deposit addresses, kept in every status. */
interface WalletBooks extends AttentionState {
  addresses: Record<string, DepositAddress>
  /** Everything ever credited, in micro-units. */
  credited: bigint
  /** Everything ever debited (consumed reservations). */
  debited: bigint
  /**
   * Open reservations by operation id; bounded by the operations in flight, not by history (an
   * operation's own stream knows whether its outcome was recorded).
   */
  reservations: Record<string, bigint>
  /** Sum of `reservations`, kept so reads need not add them up. */
  reserved: bigint
}

/** What every requested wallet carries, whatever its status. */
interface WalletRequest extends WalletBooks {
  walletId: string
  ownerId: string
  description?: string
}

/** A wallet's state by status: Circle's wallet id exists only once the wallet is active. */
export type WalletState = StatusUnion<
  | (WalletBooks & { status: 'none' })
  | (WalletRequest & { status: 'pending' })
  | (WalletRequest & { status: 'active'; circleWalletId: string })
  | (WalletRequest & { status: 'failed'; failure: Failure })
>

export const initialState: WalletState = { status: 'none', addresses: {}, credited: 0n, debited: 0n, reservations: {}, reserved: 0n }

export const reserved = (s: WalletState): bigint => s.reserved
/** credited - debited - open reservations; never below zero by construction of the deciders. */
export const available = (s: WalletState): bigint => s.credited - s.debited - reserved(s)

export function evolve(state: WalletState, event: WalletEvent): WalletState {
  switch (event.type) {
    case 'WalletCreationRequested':
      // Appended only to a wallet that does not exist yet.
      return state.status === 'none' ? { ...state, status: 'pending', ...event.data } : state
    // The deciders record an outcome only for a pending wallet; anywhere else it would change nothing.
    case 'WalletCreated':
      return state.status === 'pending' ? { ...state, status: 'active', circleWalletId: event.data.circleWalletId } : state
    case 'WalletCreationFailed':
      return state.status === 'pending' ? { ...state, status: 'failed', failure: event.data.failure } : state
    case 'DepositAddressRequested':
      return {
        ...state,
        addresses: { ...state.addresses, [event.data.addressId]: { addressId: event.data.addressId, chain: event.data.chain, status: 'pending' } },
      }
    case 'DepositAddressCreated': {
      const { addressId, chain, address, addressTag } = event.data
      const entry: DepositAddress = { addressId, chain, status: 'active', address }
      if (addressTag !== undefined) entry.addressTag = addressTag
      return { ...state, addresses: { ...state.addresses, [addressId]: entry } }
    }
    case 'DepositAddressFailed': {
      const { addressId, chain, failure } = event.data
      return { ...state, addresses: { ...state.addresses, [addressId]: { addressId, chain, status: 'failed', failure } } }
    }
    case 'FundsReserved': {
      const amount = decodeMicros(event.data.amount)
      const previous = state.reservations[event.data.operationId] ?? 0n
      return {
        ...state,
        reservations: { ...state.reservations, [event.data.operationId]: amount },
        reserved: state.reserved - previous + amount,
      }
    }
    case 'ReservationReleased':
      return closeReservation(state, event.data.operationId, 0n)
    case 'FundsDebited':
      return closeReservation(state, event.data.operationId, decodeMicros(event.data.amount))
    case 'FundsCredited':
      return { ...state, credited: state.credited + decodeMicros(event.data.amount) }
    case 'OperationNeedsAttention':
    case 'OperationAttentionCleared':
      return evolveAttention(state, event)
    default: {
      event satisfies never
      return state
    }
  }
}

function closeReservation(state: WalletState, operationId: string, debit: bigint): WalletState {
  const { [operationId]: held = 0n, ...rest } = state.reservations
  return { ...state, reservations: rest, reserved: state.reserved - held, debited: state.debited + debit }
}

export const category = 'wallet'
export const streamName = (walletId: string) => streams.streamName(category, walletId)
export const wallet: StreamType<WalletState, WalletEvent> = { category, streamName, initialState, evolve }
