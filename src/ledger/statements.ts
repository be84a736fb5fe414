import type { Kysely } from 'kysely'
import type { Database } from '../database.ts'
import { availableAccount, heldAccount } from './accounts.ts'
import { balanceAt, momentKey, type Moment } from './journal.ts'
import { positionKey } from './position-key.ts'

/** Most movements one statement answers; a longer period is asked for in parts. */
export const MAX_STATEMENT_MOVEMENTS = 10_000

export class StatementTooLong extends Error {
  override name = 'StatementTooLong'
}

export interface WalletBalances {
  available: bigint
  held: bigint
}

/** A wallet's journal balances as they were at a moment (the last entry at or before it). */
export async function walletBalancesAt(db: Kysely<Database>, walletId: string, at: Moment): Promise<WalletBalances & { position: string | null }> {
  const key = await momentKey(db, at)
  return balancesAtKey(db, walletId, key)
}

async function balancesAtKey(db: Kysely<Database>, walletId: string, key: string | null): Promise<WalletBalances & { position: string | null }> {
  const [available, held] = await Promise.all([balanceAt(db, availableAccount(walletId), key), balanceAt(db, heldAccount(walletId), key)])
  const positions = [available.position, held.position].filter((p): p is string => p !== null)
  const position = positions.sort((a, b) => (positionKey(a) < positionKey(b) ? -1 : 1)).at(-1) ?? null
  return { available: available.balance, held: held.balance, position }
}

/** The last entry strictly before a moment, as a key (null: none). */
async function keyBefore(db: Kysely<Database>, at: Moment): Promise<string | null> {
  if ('latest' in at) return momentKey(db, at)
  let q = db.selectFrom('journal_entries').select('position_key')
  q = 'position' in at ? q.where('position_key', '<', positionKey(at.position)) : q.where('booked_at', '<', at.time)
  const row = await q.orderBy('position_key', 'desc').limit(1).executeTakeFirst()
  return row?.position_key ?? null
}

export interface Movement {
  position: string
  bookedAt: Date
  operationId: string
  operationKind: string
  eventType: string
  description: string
  availableChange: bigint
  heldChange: bigint
  /** Balances right after this movement. */
  available: bigint
  held: bigint
}

export interface Statement {
  opening: WalletBalances
  movements: Movement[]
  closing: WalletBalances
}

/**
 * A wallet's statement from `from` to `to` (both inclusive): balances before the first movement,
 * every entry that touched the wallet with the balances after it, and the balances at the end.
 * Read from the journal's postings by index; nothing is folded per request.
 */
export async function walletStatement(db: Kysely<Database>, walletId: string, from: Moment, to: Moment): Promise<Statement> {
  const [startKey, endKey] = await Promise.all([keyBefore(db, from), momentKey(db, to)])
  const opening = await balancesAtKey(db, walletId, startKey)
  const movements: Movement[] = []
  const running = { available: opening.available, held: opening.held }
  if (endKey !== null && (startKey === null || endKey > startKey)) {
    let q = db
      .selectFrom('journal_postings as p')
      .innerJoin('journal_entries as e', 'e.position_key', 'p.position_key')
      .select(['p.position_key', 'p.position', 'p.account', 'p.amount', 'p.balance_after', 'p.booked_at', 'e.operation_id', 'e.operation_kind', 'e.event_type', 'e.description'])
      .where('p.wallet_id', '=', walletId)
      .where('p.position_key', '<=', endKey)
    if (startKey !== null) q = q.where('p.position_key', '>', startKey)
    const rows = await q
      .orderBy('p.position_key')
      .orderBy('p.seq')
      .limit(MAX_STATEMENT_MOVEMENTS * 2 + 1)
      .execute()
    const available = availableAccount(walletId)
    let current: Movement | undefined
    for (const r of rows) {
      if (current?.position !== r.position) {
        if (movements.length === MAX_STATEMENT_MOVEMENTS) {
          throw new StatementTooLong(`more than ${MAX_STATEMENT_MOVEMENTS} movements in the period: ask for a shorter one`)
        }
        current = {
          position: r.position,
          bookedAt: r.booked_at,
          operationId: r.operation_id,
          operationKind: r.operation_kind,
          eventType: r.event_type,
          description: r.description,
          availableChange: 0n,
          heldChange: 0n,
          available: running.available,
          held: running.held,
        }
        movements.push(current)
      }
      const amount = BigInt(r.amount)
      if (r.account === available) {
        current.availableChange += amount
        current.available = BigInt(r.balance_after)
        running.available = current.available
      } else {
        current.heldChange += amount
        current.held = BigInt(r.balance_after)
        running.held = current.held
      }
    }
  }
  return { opening: { available: opening.available, held: opening.held }, movements, closing: running }
}
