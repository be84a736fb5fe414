import { sql, type Kysely, type Transaction } from 'kysely'
import { insertRows, type JsonRow } from '../adapters/postgres/insert-rows.ts'
import type { Database } from '../database.ts'
import type { DepositEvent } from '../events/deposit.ts'
import type { MintEvent } from '../events/mint.ts'
import { decodeMicros } from '../events/money.ts'
import type { RedeemEvent } from '../events/redeem.ts'
import type { TransferEvent } from '../events/transfer.ts'
import type { Projection, Recorded } from '../subscriptions/projection.ts'
import { availableAccount, bankAccount, chainAccount, heldAccount, TREASURY, walletOf } from './accounts.ts'
import type { JournalEntriesTable, JournalOperationsTable, JournalPostingsTable } from './journal.table.ts'
import { positionKey } from './position-key.ts'

type Handled = MintEvent | RedeemEvent | TransferEvent | DepositEvent
type Operation = Pick<JournalOperationsTable, 'operation_id' | 'kind' | 'wallet_id' | 'counterparty'> & { amount: bigint }

/** One movement of an entry: `amount` leaves `from` and arrives in `to`. */
interface Move {
  from: string
  to: string
  amount: bigint
}

interface Planned {
  event: Recorded<Handled>
  operationId: string
  kind: JournalEntriesTable['operation_kind']
  description: string
  move: Move
}

/** Deposits have no operation stream of their own request; their id is the wallet credit's operation id. */
export const depositOperationId = (circleTransferId: string) => `deposit:${circleTransferId}`

/**
 * The money journal: one balanced entry per event that moves money, derived from the operation
 * streams (requests reserve, outcomes debit or release); each posting keeps its account's balance
 * after it. The wallet read model derives the same balances from the wallet streams: `journal check`
 * compares the two.
 */
export const journal: Projection<Handled> = {
  name: 'journal',
  version: 1,
  handles: [
    'MintRequested',
    'MintCompleted',
    'RedeemRequested',
    'RedeemCompleted',
    'RedeemFailed',
    'TransferRequested',
    'TransferCompleted',
    'TransferFailed',
    'DepositCompleted',
  ],
  tables: ['journal_operations', 'journal_entries', 'journal_postings', 'journal_accounts'],
  // Read by balances at a moment and account statements; applying reads the primary keys only.
  deferredIndexes: ['journal_entries_booked', 'journal_postings_account', 'journal_postings_wallet'],
  async handle(trx, events) {
    const operations = await loadOperations(trx, events)
    const created: Operation[] = []
    const planned: Planned[] = []
    for (const event of events) {
      const result = plan(event, operations)
      if (result.operation) {
        operations.set(result.operation.operation_id, result.operation)
        created.push(result.operation)
      }
      if (result.entry) planned.push(result.entry)
    }
    if (created.length > 0) {
      await insertRows(
        trx,
        'journal_operations',
        created.map((o) => ({ ...o, amount: o.amount.toString() })),
      )
    }
    if (planned.length > 0) await book(trx, planned)
  },
}

/** The operations the batch's outcome events refer to, as recorded by their requests in earlier batches. */
async function loadOperations(trx: Transaction<Database>, events: Recorded<Handled>[]): Promise<Map<string, Operation>> {
  const ids = new Set<string>()
  // A request earlier in the batch is planned before its outcome: its operation is not asked for.
  const requested = new Set<string>()
  const refer = (id: string) => {
    if (!requested.has(id)) ids.add(id)
  }
  for (const e of events) {
    if (e.type === 'MintRequested') requested.add(e.data.mintId)
    if (e.type === 'RedeemRequested') requested.add(e.data.redeemId)
    if (e.type === 'TransferRequested') requested.add(e.data.transferId)
    if (e.type === 'MintCompleted') refer(e.data.mintId)
    if (e.type === 'RedeemCompleted' || e.type === 'RedeemFailed') refer(e.data.redeemId)
    if (e.type === 'TransferCompleted' || e.type === 'TransferFailed') refer(e.data.transferId)
  }
  if (ids.size === 0) return new Map()
  // One array parameter (here and for the accounts): a page of a rebuild asks for thousands.
  const rows = await trx.selectFrom('journal_operations').selectAll().where('operation_id', '=', sql<string>`ANY(${[...ids]}::text[])`).execute()
  return new Map(rows.map((r) => [r.operation_id, { ...r, amount: BigInt(r.amount) }]))
}

function plan(event: Recorded<Handled>, operations: Map<string, Operation>): { operation?: Operation; entry?: Planned } {
  const known = (id: string): Operation => {
    const op = operations.get(id)
    // Outcomes always follow their request in the log; a missing request is a corrupt log, not a case to skip.
    if (!op) throw new Error(`journal: ${event.type} at ${event.position} names operation ${id}, whose request was never seen`)
    return op
  }
  const entry = (op: Operation, description: string, move: Move): Planned => ({ event, operationId: op.operation_id, kind: op.kind, description, move })
  switch (event.type) {
    case 'MintRequested': {
      // A mint moves nothing until Circle completes it: only its completion is an entry.
      const { mintId, walletId, amount } = event.data
      return { operation: { operation_id: mintId, kind: 'mint', wallet_id: walletId, amount: decodeMicros(amount), counterparty: TREASURY } }
    }
    case 'MintCompleted': {
      const op = known(event.data.mintId)
      return { entry: entry(op, 'mint completed', { from: op.counterparty, to: availableAccount(op.wallet_id), amount: op.amount }) }
    }
    case 'RedeemRequested': {
      const { redeemId, walletId, bankAccountId, amount } = event.data
      const op: Operation = { operation_id: redeemId, kind: 'redeem', wallet_id: walletId, amount: decodeMicros(amount), counterparty: bankAccount(bankAccountId) }
      return { operation: op, entry: entry(op, 'redeem requested: funds reserved', reserve(op)) }
    }
    case 'RedeemCompleted': {
      const op = known(event.data.redeemId)
      return { entry: entry(op, 'redeem completed: paid out to the bank account', debit(op)) }
    }
    case 'RedeemFailed': {
      const op = known(event.data.redeemId)
      return { entry: entry(op, 'redeem failed: reservation released', release(op)) }
    }
    case 'TransferRequested': {
      const { transferId, sourceWalletId, destination, amount } = event.data
      const counterparty = destination.type === 'wallet' ? availableAccount(destination.walletId) : chainAccount(destination.chain)
      const op: Operation = { operation_id: transferId, kind: 'transfer', wallet_id: sourceWalletId, amount: decodeMicros(amount), counterparty }
      return { operation: op, entry: entry(op, 'transfer requested: funds reserved', reserve(op)) }
    }
    case 'TransferCompleted': {
      const op = known(event.data.transferId)
      return { entry: entry(op, 'transfer completed', debit(op)) }
    }
    case 'TransferFailed': {
      const op = known(event.data.transferId)
      return { entry: entry(op, 'transfer failed: reservation released', release(op)) }
    }
    case 'DepositCompleted': {
      const { circleTransferId, walletId, amount, chain } = event.data
      return {
        entry: {
          event,
          operationId: depositOperationId(circleTransferId),
          kind: 'deposit',
          description: 'deposit received',
          // Circle does not always tell the chain of a deposit; such funds are booked to chain:unknown.
          move: { from: chainAccount(chain ?? 'unknown'), to: availableAccount(walletId), amount: decodeMicros(amount) },
        },
      }
    }
    default:
      return {}
  }
}

function circleIdOf(e: Recorded<Handled>): string | null {
  switch (e.type) {
    case 'MintCompleted':
    case 'TransferCompleted':
    case 'DepositCompleted':
      return e.data.circleTransferId
    case 'RedeemCompleted':
      return e.data.circlePayoutId
    default:
      return null
  }
}

const reserve = (op: Operation): Move => ({ from: availableAccount(op.wallet_id), to: heldAccount(op.wallet_id), amount: op.amount })
const debit = (op: Operation): Move => ({ from: heldAccount(op.wallet_id), to: op.counterparty, amount: op.amount })
const release = (op: Operation): Move => ({ from: heldAccount(op.wallet_id), to: availableAccount(op.wallet_id), amount: op.amount })

/** Writes the entries, their postings with running balances, and the accounts' new balances. */
async function book(trx: Transaction<Database>, planned: Planned[]): Promise<void> {
  const accounts = new Set(planned.flatMap((p) => [p.move.from, p.move.to]))
  const rows = await trx.selectFrom('journal_accounts').select(['account', 'balance', 'postings']).where('account', '=', sql<string>`ANY(${[...accounts]}::text[])`).execute()
  const balances = new Map(rows.map((r) => [r.account, { balance: BigInt(r.balance), postings: BigInt(r.postings), last: '' }]))
  const lastEntry = await trx.selectFrom('journal_entries').select('booked_at').orderBy('position_key', 'desc').limit(1).executeTakeFirst()
  let booked = lastEntry?.booked_at.getTime() ?? 0

  const entries: JsonRow<JournalEntriesTable>[] = []
  const postings: JsonRow<JournalPostingsTable>[] = []
  for (const p of planned) {
    const e = p.event
    const key = positionKey(e.position)
    // An entry's moment never goes back in time along the log, so "balance at T" has one answer.
    booked = Math.max(booked, Date.parse(e.recordedAt))
    const bookedAt = new Date(booked)
    entries.push({
      position_key: key,
      position: e.position,
      stream: e.stream,
      revision: e.revision,
      event_id: e.id,
      event_type: e.type,
      operation_id: p.operationId,
      operation_kind: p.kind,
      description: p.description,
      actor: e.metadata.actor,
      request_id: e.metadata.requestId ?? null,
      circle_id: circleIdOf(e),
      booked_at: bookedAt,
    })
    const legs: [string, bigint][] = [
      [p.move.from, -p.move.amount],
      [p.move.to, p.move.amount],
    ]
    legs.forEach(([account, amount], seq) => {
      const state = balances.get(account) ?? { balance: 0n, postings: 0n, last: '' }
      state.balance += amount
      state.postings += 1n
      state.last = key
      balances.set(account, state)
      postings.push({
        position_key: key,
        seq,
        position: e.position,
        account,
        wallet_id: walletOf(account) ?? null,
        amount: amount.toString(),
        balance_after: state.balance.toString(),
        booked_at: bookedAt,
      })
    })
  }
  await insertRows(trx, 'journal_entries', entries)
  await insertRows(trx, 'journal_postings', postings)
  const touched = [...balances].filter(([, s]) => s.last !== '')
  await insertRows(
    trx,
    'journal_accounts',
    touched.map(([account, s]) => ({ account, wallet_id: walletOf(account) ?? null, balance: s.balance.toString(), postings: s.postings.toString(), last_position_key: s.last })),
    { updateOnConflict: { target: ['account'], set: ['balance', 'postings', 'last_position_key'] } },
  )
}

/** A moment of the journal: a position of the log, an instant, or the latest entry. */
export type Moment = { position: string } | { time: Date } | { latest: true }

/**
 * The last entry at or before a moment, as a position key; null when the journal has no entry by
 * then (every balance was zero). One index lookup for a time, none for a position.
 */
export async function momentKey(db: Kysely<Database>, at: Moment): Promise<string | null> {
  if ('position' in at) return positionKey(at.position)
  if ('latest' in at) {
    const last = await db.selectFrom('journal_entries').select('position_key').orderBy('position_key', 'desc').limit(1).executeTakeFirst()
    return last?.position_key ?? null
  }
  const row = await db
    .selectFrom('journal_entries')
    .select('position_key')
    .where('booked_at', '<=', at.time)
    .orderBy('booked_at', 'desc')
    .orderBy('position_key', 'desc')
    .limit(1)
    .executeTakeFirst()
  return row?.position_key ?? null
}

/** An account's balance after the last posting at or before `key` (0 before its first). */
export async function balanceAt(db: Kysely<Database>, account: string, key: string | null): Promise<{ balance: bigint; position: string | null }> {
  if (key === null) return { balance: 0n, position: null }
  const row = await db
    .selectFrom('journal_postings')
    .select(['balance_after', 'position'])
    .where('account', '=', account)
    .where('position_key', '<=', key)
    .orderBy('position_key', 'desc')
    .orderBy('seq', 'desc')
    .limit(1)
    .executeTakeFirst()
  return row ? { balance: BigInt(row.balance_after), position: row.position } : { balance: 0n, position: null }
}

export async function getAccount(db: Kysely<Database>, account: string) {
  return db.selectFrom('journal_accounts').selectAll().where('account', '=', account).executeTakeFirst()
}

/** An account's postings in log order, after a position (exclusive), at most `limit`, up to `untilKey` if given. */
export async function accountPostings(db: Kysely<Database>, account: string, page: { after?: string | undefined; untilKey?: string | null; limit: number }) {
  let q = db
    .selectFrom('journal_postings as p')
    .innerJoin('journal_entries as e', 'e.position_key', 'p.position_key')
    .select(['p.position', 'p.position_key', 'p.amount', 'p.balance_after', 'p.booked_at', 'e.operation_id', 'e.operation_kind', 'e.event_type', 'e.description', 'e.actor', 'e.request_id', 'e.circle_id'])
    .where('p.account', '=', account)
  if (page.after !== undefined) q = q.where('p.position_key', '>', positionKey(page.after))
  if (page.untilKey != null) q = q.where('p.position_key', '<=', page.untilKey)
  return q.orderBy('p.position_key').orderBy('p.seq').limit(page.limit).execute()
}

/** Entries in log order after a position (exclusive), with their postings. */
export async function listEntries(db: Kysely<Database>, page: { after?: string | undefined; limit: number }) {
  let q = db.selectFrom('journal_entries').selectAll()
  if (page.after !== undefined) q = q.where('position_key', '>', positionKey(page.after))
  const entries = await q.orderBy('position_key').limit(page.limit).execute()
  if (entries.length === 0) return []
  const postings = await db
    .selectFrom('journal_postings')
    .select(['position_key', 'seq', 'account', 'amount', 'balance_after'])
    .where('position_key', 'in', entries.map((e) => e.position_key))
    .orderBy('position_key')
    .orderBy('seq')
    .execute()
  const byEntry = Map.groupBy(postings, (p) => p.position_key)
  return entries.map((e) => ({ ...e, postings: byEntry.get(e.position_key) ?? [] }))
}

/** Every account's kept balance, in account order, and their sum (zero when the journal holds). */
export async function trialBalance(db: Kysely<Database>) {
  const rows = await db.selectFrom('journal_accounts').select(['account', 'balance', 'postings']).orderBy('account').execute()
  const total = rows.reduce((sum, r) => sum + BigInt(r.balance), 0n)
  return { accounts: rows.map((r) => ({ account: r.account, balance: BigInt(r.balance), postings: Number(r.postings) })), total }
}
