import { sql, type ExpressionBuilder } from 'kysely'
import type pg from 'pg'
import type { Logger } from 'pino'
import type { CirclePort, CircleTransfer } from '../adapters/circle/port.ts'
import type { Db } from '../adapters/postgres/database.ts'
import type { Database } from '../database.ts'
import { UpstreamError } from '../adapters/upstream-error.ts'
import { DomainError } from '../commands/errors.ts'
import { execute } from '../commands/handler.ts'
import { depositCommandId, recordDeposit } from '../commands/record-deposit.ts'
import type { EventStore } from '../events/event-store.ts'
import { logSteps } from '../logger.ts'
import type { Metrics } from '../metrics.ts'
import { leasedInterval, type LeasedLoop } from '../subscriptions/lease.ts'

const MARK = 'transfers'
/**
 * How long a deposit that cannot be recorded yet is waited for, unless configured: a week, since
 * Circle may hold a deposit for review for days, and waiting costs one request a poll at most.
 */
const DEFAULT_HOLD_MS = 7 * 24 * 3_600_000

/** RecordDeposit's answers that listing the deposit again would only repeat. */
const PERMANENT_REFUSALS = new Set(['outcome_conflict', 'invalid_command'])

export interface DepositPollerOptions {
  store: EventStore
  db: Db
  /** For the lease that keeps one active poller across processes. */
  pool: pg.Pool
  circle: Pick<CirclePort, 'listTransfers' | 'getTransfer' | 'masterWalletId'>
  logger: Logger
  intervalMs: number
  pageSize?: number
  /**
   * How long a deposit that is still pending at Circle, or whose wallet is not known yet, is waited
   * for: since its creation when it is listed, since it was first listed once it waits. Past it the
   * poller gives up on it (and says so). A week unless set.
   */
  holdMs?: number
  /** How many waiting deposits to our wallets one poll asks Circle for, least recently asked first; 10 unless set. */
  checksPerPoll?: number
  leaseRetryMs?: number
  metrics?: Pick<Metrics, 'countSteps'>
}

/** Why a deposit cannot be recorded yet: still pending at Circle, or to a Circle wallet the read model does not know (yet). */
type WaitReason = 'pending' | 'unknown_wallet'
/** What became of one inbound transfer: nothing (more) to do (credited now or before, or not ours to credit), or to be settled on a later poll. */
type Settled = { kind: 'done' } | { kind: 'waiting'; reason: WaitReason }

/**
 * Inbound on-chain deposits reach the ledger by polling Circle's transfers with a high-water mark,
 * so the embedded flow works without webhooks (and catches what a lost webhook missed). Each poll
 * lists transfers created since the mark and records every completed inbound one to a wallet of ours
 * (RecordDeposit is idempotent per Circle transfer id, so listing one twice is harmless); after a
 * complete listing the mark moves to the newest creation time seen. A deposit it cannot record yet
 * (pending at Circle, or to a Circle wallet the read model does not know yet) waits in
 * `circle_pending_deposits`, and each poll asks Circle for a few of those by id, so a deposit pending
 * for hours costs one request a poll instead of a listing of everything since it.
 */
export class DepositPoller {
  private readonly options: DepositPollerOptions
  private readonly lease: LeasedLoop

  constructor(options: DepositPollerOptions) {
    this.options = options
    this.lease = leasedInterval({
      pool: options.pool,
      name: 'deposit-poller',
      retryMs: options.leaseRetryMs,
      intervalMs: options.intervalMs,
      pass: () => this.pollOnce(),
      onError: (err) => this.options.logger.warn({ err }, 'deposit poll failed; will retry'),
    })
  }

  start(): void {
    this.lease.start()
  }

  stop(): Promise<void> {
    return this.lease.stop()
  }

  /**
   * One poll: list since the mark and record completed deposits, move the mark, then ask again for
   * deposits that were waiting. Returns how many deposits were new, the mark, and how many still wait.
   */
  async pollOnce(): Promise<{ recorded: number; mark: string | undefined; waiting: number }> {
    const { db } = this.options
    const from = (await db.selectFrom('circle_poll_marks').select('mark').where('name', '=', MARK).executeTakeFirst())?.mark
    const pass: Pass = { listed: new Set(), newest: undefined, recorded: 0, master: undefined }
    let mark = from
    let listing: { failed: unknown } | undefined
    try {
      mark = await this.list(from, pass)
    } catch (err) {
      listing = { failed: err }
    }
    // Also when the listing failed: a waiting deposit that completed is credited whatever the listing does.
    const waiting = await this.checkWaiting(pass)
    if (listing) throw listing.failed
    return { recorded: pass.recorded, mark, waiting }
  }

  /**
   * Lists since the mark, newest first, paging back until a short page so that everything since the
   * mark is seen before it moves; each page is recorded before the next is asked for (memory holds
   * one page). Then moves the mark to the newest creation time listed, and returns it.
   */
  private async list(from: string | undefined, pass: Pass): Promise<string | undefined> {
    const { db, circle } = this.options
    const pageSize = this.options.pageSize ?? 50
    for (let pageAfter: string | undefined; ; ) {
      const page = await circle.listTransfers({ ...(from === undefined ? {} : { from }), ...(pageAfter === undefined ? {} : { pageAfter }), pageSize })
      for (const t of page) if (t.createDate && (pass.newest === undefined || t.createDate > pass.newest)) pass.newest = t.createDate
      await this.recordListed(page, pass)
      const last = page.at(-1)
      if (last === undefined || page.length < pageSize) break
      pageAfter = last.id
    }
    const mark = pass.newest ?? from
    if (mark !== undefined && mark !== from) {
      await db
        .insertInto('circle_poll_marks')
        .values({ name: MARK, mark, updated_at: new Date() })
        .onConflict((oc) => oc.column('name').doUpdateSet({ mark, updated_at: new Date() }))
        .execute()
    }
    return mark
  }

  /**
   * Records the completed inbound deposits of one page of the listing; those that must wait are
   * kept in `circle_pending_deposits`. Any other failure fails the pass, so the mark stays and the
   * next poll lists them again: a listed deposit is never passed over.
   */
  private async recordListed(page: CircleTransfer[], pass: Pass): Promise<void> {
    const inbound = page.filter((t) => isInbound(t) && t.status !== 'failed')
    const walletOf = await this.walletsOf(inbound.map(destinationWallet))
    for (const t of inbound) {
      const settled = await this.settle(t, walletOf, pass)
      if (settled.kind !== 'waiting') continue
      pass.listed.add(t.id)
      await this.options.db
        .insertInto('circle_pending_deposits')
        .values({ circle_transfer_id: t.id, circle_wallet_id: destinationWallet(t), create_date: t.createDate ?? new Date().toISOString(), reason: settled.reason })
        .onConflict((oc) => oc.column('circle_transfer_id').doUpdateSet({ reason: settled.reason }))
        .execute()
    }
  }

  /**
   * Settles the deposits that wait. Those to a Circle wallet still unknown cost no request (only the
   * read model can change their answer): given up past the hold, in one statement. Of those to our
   * wallets, a few are asked for at Circle by id, least recently asked first (not those this poll
   * has just listed), and recorded once complete. A failure (Circle not answering, a lost race on a
   * busy wallet, the database) leaves that deposit waiting for a later poll, never gives it up, and
   * the others are still settled. Given up only: one still pending, or to a wallet still unknown,
   * past the hold; one Circle says it does not have (a refusal such as 404). Returns how many still
   * wait. With none waiting (the usual case) this costs one statement.
   */
  private async checkWaiting(pass: Pass): Promise<number> {
    const { db, logger } = this.options
    // What this poll saw: only the poller holding the lease changes the table (a pass outliving a lost
    // lease could make the number returned stale, nothing else).
    let waiting = Number((await db.selectFrom('circle_pending_deposits').select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow()).n)
    if (waiting === 0) return 0
    const holdMs = this.options.holdMs ?? DEFAULT_HOLD_MS
    const unknownWallet = (eb: ExpressionBuilder<Database, 'circle_pending_deposits'>) =>
      eb.not(eb.exists(eb.selectFrom('circle_ids').select('circle_ids.circle_id').where('circle_ids.kind', '=', 'wallet').whereRef('circle_ids.circle_id', '=', 'circle_pending_deposits.circle_wallet_id')))
    const expired = await db
      .deleteFrom('circle_pending_deposits')
      .where((eb) => eb.and([unknownWallet(eb), eb('listed_at', '<', sql<Date>`now() - make_interval(secs => ${holdMs / 1000})`)]))
      .returning(['circle_transfer_id', 'circle_wallet_id', 'create_date'])
      .execute()
    waiting -= expired.length
    for (const row of expired) {
      logger.warn({ circleTransferId: row.circle_transfer_id, circleWalletId: row.circle_wallet_id, createDate: row.create_date }, 'deposit to an unknown Circle wallet for too long; no longer waiting for it')
    }

    const rows = await db
      .selectFrom('circle_pending_deposits')
      .innerJoin('circle_ids', (join) => join.onRef('circle_ids.circle_id', '=', 'circle_pending_deposits.circle_wallet_id').on('circle_ids.kind', '=', 'wallet'))
      .select(['circle_transfer_id', 'circle_wallet_id', 'entity_id', 'listed_at'])
      .$if(pass.listed.size > 0, (q) => q.where('circle_transfer_id', 'not in', [...pass.listed]))
      .orderBy('checked_at')
      .orderBy('circle_transfer_id')
      .limit(this.options.checksPerPoll ?? 10)
      .execute()
    for (const row of rows) {
      const id = row.circle_transfer_id
      let settled: Settled
      try {
        settled = await this.settleWaiting(id, new Map([[row.circle_wallet_id, row.entity_id]]), pass, row.listed_at)
      } catch (err) {
        if (err instanceof UpstreamError && err.refusal) {
          logger.error({ err, circleTransferId: id }, 'Circle refused to show a waiting deposit; no longer waiting for it')
          settled = { kind: 'done' }
        } else {
          // Never given up for this: Circle or the ledger failing says nothing of the deposit. Past the
          // hold it is an error someone should look at (deposits_waiting_oldest_age_seconds shows it too).
          const overdue = Date.now() - row.listed_at.getTime() > holdMs
          logger[overdue ? 'error' : 'warn']({ err, circleTransferId: id, listedAt: row.listed_at }, 'could not settle a waiting deposit; will ask again')
          settled = { kind: 'waiting', reason: 'pending' }
        }
      }
      if (settled.kind === 'waiting') {
        await db.updateTable('circle_pending_deposits').set({ checked_at: sql<Date>`now()`, reason: settled.reason }).where('circle_transfer_id', '=', id).execute()
      } else {
        await db.deleteFrom('circle_pending_deposits').where('circle_transfer_id', '=', id).execute()
        waiting--
      }
    }
    return waiting
  }

  /** Asks Circle for one waiting deposit whose wallet is known, and records it if it completed. */
  private async settleWaiting(id: string, walletOf: Map<string, string>, pass: Pass, listedAt: Date): Promise<Settled> {
    const t = await this.options.circle.getTransfer(id)
    if (!isInbound(t)) return { kind: 'done' }
    if (t.status === 'failed') {
      this.options.logger.info({ circleTransferId: id }, 'a waiting deposit failed at Circle; nothing to credit')
      return { kind: 'done' }
    }
    return this.settle(t, walletOf, pass, listedAt)
  }

  /** Which of our wallets each Circle wallet is: the Circle-id read model, written from WalletCreated. */
  private async walletsOf(circleWalletIds: string[]): Promise<Map<string, string>> {
    const circleIds = [...new Set(circleWalletIds)]
    if (circleIds.length === 0) return new Map()
    const known = await this.options.db.selectFrom('circle_ids').select(['circle_id', 'entity_id']).where('kind', '=', 'wallet').where('circle_id', 'in', circleIds).execute()
    return new Map(known.map((r) => [r.circle_id, r.entity_id]))
  }

  /**
   * A deposit that cannot be recorded yet waits, unless it has waited longer than the hold: since it
   * was first listed (`listedAt`) once it waits in the table; when it is listed, since Circle created
   * it (a date that does not parse: it has not waited).
   */
  private waitOrGiveUp(t: { id: string; createDate?: string | undefined }, listedAt: Date | undefined, reason: WaitReason): Settled {
    const since = listedAt?.getTime() ?? (t.createDate === undefined ? Number.NaN : Date.parse(t.createDate))
    const waited = Number.isNaN(since) ? 0 : Date.now() - since
    if (waited <= (this.options.holdMs ?? DEFAULT_HOLD_MS)) return { kind: 'waiting', reason }
    const why = reason === 'pending' ? 'pending at Circle' : 'to an unknown Circle wallet'
    this.options.logger.warn({ circleTransferId: t.id, createDate: t.createDate, listedAt }, `deposit ${why} for too long; no longer waiting for it`)
    return { kind: 'done' }
  }

  /**
   * Records one inbound transfer that is not failed, if it is a deposit the ledger can credit now.
   * `listedAt`: when a waiting deposit was first listed.
   */
  private async settle(t: CircleTransfer, walletOf: Map<string, string>, pass: Pass, listedAt?: Date): Promise<Settled> {
    const { circle, store, logger } = this.options
    const circleWalletId = destinationWallet(t)
    if (t.amount === undefined) {
      // Not USDC, or a USD amount no USDC transfer can carry: never credited as if it were, so never
      // worth waiting for (reconciliation reports it as an unknown deposit).
      const fields = { circleTransferId: t.id, circleWalletId, amount: t.amountText, currency: t.currency }
      if (t.currency === 'USD') logger.error(fields, 'deposit of a USD amount the ledger cannot read; not credited')
      else logger.warn(fields, 'deposit in a currency the ledger does not book; not credited')
      return { kind: 'done' }
    }
    if (t.amount === 0n) {
      // A zero-value transfer (address poisoning sends them) credits nothing: not a deposit to record.
      logger.info({ circleTransferId: t.id, circleWalletId }, 'zero-value inbound transfer; nothing to credit')
      return { kind: 'done' }
    }
    const walletId = walletOf.get(circleWalletId)
    if (walletId === undefined) {
      // USDC sent on-chain to the treasury funds it: no wallet of ours to credit, nothing to wait for.
      if (circleWalletId === (pass.master ??= await circle.masterWalletId())) {
        logger.info({ circleTransferId: t.id, amount: t.amountText }, 'treasury funded by an on-chain transfer')
        return { kind: 'done' }
      }
      return this.waitOrGiveUp(t, listedAt, 'unknown_wallet')
    }
    if (t.status !== 'complete') return this.waitOrGiveUp(t, listedAt, 'pending')
    const command = { circleTransferId: t.id, walletId, amount: t.amount, ...(t.sourceChain ? { chain: t.sourceChain } : {}), ...(t.txHash ? { txHash: t.txHash } : {}) }
    let result
    try {
      result = await execute(store, recordDeposit, command, {
        commandId: depositCommandId(t.id),
        actor: 'deposit-poller',
        occurredAt: new Date().toISOString(),
      })
    } catch (err) {
      // The ledger refusing one deposit for good (recorded before with another amount, a field it
      // cannot take) must not stop the poll: the deposits after it would never be credited. Asking
      // again would get the same answer, so it is not waited for; reconciliation reports it.
      // Anything else (a lost race on a busy wallet, the database) is thrown to the caller.
      if (!(err instanceof DomainError && PERMANENT_REFUSALS.has(err.code))) throw err
      logger.error({ err, circleTransferId: t.id, walletId }, 'the ledger refused a deposit listed at Circle; not credited')
      return { kind: 'done' }
    }
    logSteps(logger, result.appended, { operationId: t.id, actor: 'deposit-poller' }, this.options.metrics)
    if (result.appended.some((a) => a.events.length > 0)) pass.recorded++
    return { kind: 'done' }
  }
}

/** The Circle wallet an inbound transfer goes to. */
const destinationWallet = (t: CircleTransfer): string => (t.destination as { id: string }).id

/** A transfer from a blockchain into a Circle wallet: a deposit, if the wallet is ours. */
function isInbound(t: CircleTransfer): boolean {
  return t.sourceChain !== undefined && t.destination.type === 'wallet'
}

/** What one poll has found so far. */
interface Pass {
  /** The waiting deposits this poll listed: not asked for again in it. */
  listed: Set<string>
  /** The newest creation time listed. */
  newest: string | undefined
  recorded: number
  /** The master wallet's Circle id, once asked for. */
  master: string | undefined
}

/** What waits in `circle_pending_deposits`, by reason, and how long the oldest has waited since first listed (for /metrics). */
export async function waitingDeposits(db: Db): Promise<{ reason: string; count: number; oldestSeconds: number }[]> {
  const rows = await db
    .selectFrom('circle_pending_deposits')
    .select((eb) => ['reason', eb.fn.countAll<string>().as('n'), sql<string>`extract(epoch FROM now() - min(listed_at))`.as('oldest')])
    .groupBy('reason')
    .execute()
  return rows.map((r) => ({ reason: r.reason, count: Number(r.n), oldestSeconds: Math.max(0, Number(r.oldest)) }))
}
