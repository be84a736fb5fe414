import { UpstreamError } from '../upstream-error.ts'

/**
 * What the ledger needs from Circle (Core API). Implemented on `@circle-fin/circle-sdk`; the same
 * SDK talks to Circle or to our simulator. Amounts are micro-units here; the adapter converts.
 */

/** Circle's resource statuses ('running' = broadcast, waiting for confirmations). */
export type CircleStatus = 'pending' | 'running' | 'complete' | 'failed'

export interface BillingDetails {
  name: string
  line1: string
  line2?: string
  city: string
  postalCode: string
  country: string
  district?: string
}
export interface BankAddress {
  bankName?: string
  line1?: string
  line2?: string
  city?: string
  country: string
  district?: string
}
/** Wire account details; they pass through to Circle and are never stored by us. */
export type WireAccountDetails =
  | { accountNumber: string; routingNumber: string; billingDetails: BillingDetails; bankAddress: BankAddress }
  | { iban: string; billingDetails: BillingDetails; bankAddress: BankAddress }

export interface CircleWireAccount {
  id: string
  status: 'pending' | 'complete' | 'failed'
  description?: string
}
export interface CircleWallet {
  walletId: string
  /** USD (= USDC) balance in micro-units. */
  balance: bigint
}
export interface CircleAddress {
  address: string
  addressTag?: string
  chain: string
}
export type CircleDestination = { type: 'wallet'; id: string } | { type: 'blockchain'; chain: string; address: string; addressTag?: string }
/** An amount as Circle gives it, in whatever currency. */
export interface CircleMoney {
  /**
   * Circle's currency code. 'USD' is USDC, the only currency this ledger books; a wallet at Circle
   * can also receive others (EURC is 'EUR'), and the business account pay them out; never booked.
   */
  currency: string
  /**
   * In micro-units when `currency` is 'USD'; undefined for another currency, whose precision
   * differs, and for a USD amount that is not one USDC can hold (a sign, more than 6 decimals).
   */
  amount: bigint | undefined
  /** The amount as Circle wrote it ("12.34"), in `currency`. */
  amountText: string
}
export interface CircleTransfer extends CircleMoney {
  id: string
  status: CircleStatus
  sourceWalletId?: string
  /** Set for inbound deposits (source blockchain). */
  sourceChain?: string
  destination: CircleDestination
  txHash?: string
  errorCode?: string
  /** When Circle created it (ISO 8601, Circle's `createDate`); what listings are filtered and ordered by. */
  createDate?: string
}
export interface CirclePayout extends CircleMoney {
  id: string
  status: 'pending' | 'complete' | 'failed'
  errorCode?: string
  createDate?: string
}
/** Circle's list filters: `from`/`to` bound the creation date (ISO, inclusive). */
export interface CircleListQuery {
  from?: string
  to?: string
}

/** How a listing of all pages is read. */
export interface ListOptions<T> {
  /** Only the items it keeps are returned, chosen page by page: memory holds those and one page. */
  keep?: (item: T) => boolean
  /** Hears of each page read, with the items read so far, kept or not. */
  onPage?: (read: number) => void
}

export interface CirclePort {
  /** Undefined when our key works; else what is wrong (refused key, Circle unreachable), probed at most every `maxAgeMs`. */
  accessProblem(maxAgeMs?: number): Promise<string | undefined>
  masterWalletId(): Promise<string>
  createWallet(request: { idempotencyKey: string; description?: string }): Promise<CircleWallet>
  getWallet(walletId: string): Promise<CircleWallet>
  createDepositAddress(walletId: string, request: { idempotencyKey: string; chain: string }): Promise<CircleAddress>
  createWireAccount(request: { idempotencyKey: string; details: WireAccountDetails }): Promise<CircleWireAccount>
  getWireAccount(id: string): Promise<CircleWireAccount>
  /** Available USD (= USDC) in the business account, micro-units. */
  treasuryBalance(): Promise<bigint>
  createTransfer(request: { idempotencyKey: string; sourceWalletId: string; destination: CircleDestination; amount: bigint }): Promise<CircleTransfer>
  getTransfer(id: string): Promise<CircleTransfer>
  /**
   * Transfers created since `from` (inclusive), newest first, one page of at most `pageSize`;
   * `pageAfter` (a transfer id) continues with older ones. Inbound deposits have `sourceChain`.
   */
  listTransfers(query: { from?: string; pageAfter?: string; pageSize?: number }): Promise<CircleTransfer[]>
  createPayout(request: { idempotencyKey: string; wireAccountId: string; amount: bigint }): Promise<CirclePayout>
  getPayout(id: string): Promise<CirclePayout>
  /**
   * Every transfer created in the range, all pages (newest first): in or out of `walletId`, or of
   * any wallet of the account (the master wallet and the end-user wallets) when it is not given.
   */
  listAllTransfers(query: CircleListQuery & { walletId?: string }, options?: ListOptions<CircleTransfer>): Promise<CircleTransfer[]>
  /** Every business payout created in the range, all pages (newest first). */
  listPayouts(query: CircleListQuery, options?: ListOptions<CirclePayout>): Promise<CirclePayout[]>
}

/** A failed Circle call; see UpstreamError for transient versus refused. */
export class CircleError extends UpstreamError {
  override name = 'CircleError'
}
