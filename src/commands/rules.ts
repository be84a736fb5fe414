import { z } from 'zod'
import { available, type WalletState } from '../events/wallet.ts'
import { formatAmount } from '../events/money.ts'
import { DomainError } from './errors.ts'

/**
 * Ids as this service writes them: UUIDs in lower case. Ids are compared as text, so an upper-case
 * spelling of an existing id would name nothing (a 404, or a refusal stored under an idempotency
 * key); it is refused as malformed instead. Versions and variant as `z.uuid()` checks them.
 */
export const LOWER_CASE_UUID = /^([0-9a-f]{8}-[0-9a-f]{4}-[1-8][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}|00000000-0000-0000-0000-000000000000|ffffffff-ffff-ffff-ffff-ffffffffffff)$/
export const id = z.stringFormat('uuid', LOWER_CASE_UUID)
export const amount = z.bigint().positive()
/**
 * backendMirror's id of the owner of wallets and bank accounts. A redeem pays only to a bank account
 * of the wallet's owner, compared as written: an id with a space at either end would be another
 * owner than the same id without, so such an id (and a blank one) is refused.
 */
export const ownerId = z
  .string()
  .min(1, { abort: true })
  .max(128, { abort: true })
  .regex(/^\S(?:.*\S)?$/s, 'ownerId must not start or end with a space or a line break')
export const failure = z.object({ code: z.string().min(1).max(100), message: z.string().max(1000) })

export function requireActiveWallet(state: WalletState, walletId: string): void {
  if (state.status === 'none') throw new DomainError('wallet_not_found', `wallet ${walletId} does not exist`)
  if (state.status !== 'active') throw new DomainError('wallet_not_active', `wallet ${walletId} is ${state.status}, not active`)
}

export function requireFunds(state: WalletState, walletId: string, wanted: bigint): void {
  const free = available(state)
  if (free < wanted) {
    throw new DomainError('insufficient_funds', `wallet ${walletId} has ${formatAmount(free)} available, ${formatAmount(wanted)} needed`, {
      available: formatAmount(free),
      requested: formatAmount(wanted),
    })
  }
}

export function requireNew(status: string, what: string, id: string): void {
  if (status !== 'none') throw new DomainError('already_exists', `${what} ${id} already exists`)
}

/** Narrows the state whose status it is checks: past this call, the stream exists. */
export function requireExisting<S extends string>(status: S, what: string, id: string): asserts status is Exclude<S, 'none'> {
  if (status === 'none') throw new DomainError('not_found', `${what} ${id} not found`)
}
