import type pg from 'pg'
import type { Logger } from 'pino'
import type { CirclePort, CircleTransfer } from '../adapters/circle/port.ts'
import type { Db } from '../adapters/postgres/database.ts'
import { DomainError } from '../commands/errors.ts'
import { execute } from '../commands/handler.ts'
import { depositCommandId, recordDeposit } from '../commands/record-deposit.ts'
import type { EventStore } from '../events/event-store.ts'
import { logSteps } from '../logger.ts'
import type { Metrics } from '../metrics.ts'
import { leasedInterval, type LeasedLoop } from '../subscriptions/lease.ts'

/** High-water marks of Circle listings: the creation time from which the next poll lists again. */
export interface CirclePollMarksTable {
  name: string
  /** ISO 8601, Circle's `createDate`; kept as text so it goes back to Circle exactly as received. */
  mark: string
  updated_at: Date
}

const MARK = 'transfers'

/** RecordDeposit's answers that listing the deposit again would only repeat. */
const PERMANENT_REFUSALS = new Set(['outcome_conflict', 'invalid_command'])

export interface DepositPollerOptions {
  store: EventStore
  db: Db
  /** For the lease that keeps one active poller across processes. */
  pool: pg.Pool
  circle: Pick<CirclePort, 'listTransfers' | 'masterWalletId'>
  logger: Logger
  intervalMs: number
  pageSize?: number
  /**
   * How long a deposit that is still pending at Circle, or whose wallet is not known yet, holds the
   * mark back so it is listed again. Past it the poller moves on (and says so).
   */
  holdMs?: number
  leaseRetryMs?: number
  metrics?: Pick<Metrics, 'countSteps'>
}

/**
 * Inbound on-chain deposits reach the ledger by polling Circle's transfers with a high-water mark,
 * so the embedded flow works without webhooks (and catches what a lost webhook missed). Each poll
 * lists transfers created since the mark, records every completed inbound one to a wallet of ours
 * (RecordDeposit is idempotent per Circle transfer id, so listing one twice is harmless), and moves
 * the mark to the newest creation time seen — or only up to the oldest deposit still pending, which
 * must be listed again once it completes.
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

  /** One poll: list since the mark, record completed deposits, move the mark. Returns how many deposits were new. */
  async pollOnce(): Promise<{ recorded: number; mark: string | undefined }> {
    const { db, circle } = this.options
    const pageSize = this.options.pageSize ?? 50
    const from = (await db.selectFrom('circle_poll_marks').select('mark').where('name', '=', MARK).executeTakeFirst())?.mark
    const pass: Pass = { hold: undefined, newest: undefined, recorded: 0, master: undefined }

    // Newest first: page back until a short page, so everything since the mark is seen before it
    // moves. Each page is recorded before the next is asked for: memory holds one page, however
    // long the listing (a deposit pending for hours keeps the mark, and the listing, that far back).
    for (let pageAfter: string | undefined; ; ) {
      const page = await circle.listTransfers({ ...(from === undefined ? {} : { from }), ...(pageAfter === undefined ? {} : { pageAfter }), pageSize })
      for (const t of page) if (t.createDate && (pass.newest === undefined || t.createDate > pass.newest)) pass.newest = t.createDate
      await this.recordPage(page, pass)
      const last = page.at(-1)
      if (last === undefined || page.length < pageSize) break
      pageAfter = last.id
    }

    const mark = pass.hold ?? pass.newest ?? from
    if (mark !== undefined && mark !== from) {
      await db
        .insertInto('circle_poll_marks')
        .values({ name: MARK, mark, updated_at: new Date() })
        .onConflict((oc) => oc.column('name').doUpdateSet({ mark, updated_at: new Date() }))
        .execute()
    }
    return { recorded: pass.recorded, mark }
  }

  /** Records the completed inbound deposits of one page of the listing; notes in `pass` what must hold the mark back. */
  private async recordPage(page: CircleTransfer[], pass: Pass): Promise<void> {
    const { db, circle, store, logger } = this.options
    const holdMs = this.options.holdMs ?? 24 * 3_600_000
    const inbound = page.filter((t) => t.sourceChain !== undefined && t.destination.type === 'wallet' && t.status !== 'failed')
    const circleIds = [...new Set(inbound.map((t) => (t.destination as { id: string }).id))]
    // Which of our wallets each Circle wallet is: the Circle-id read model, written from WalletCreated.
    const known = circleIds.length === 0 ? [] : await db.selectFrom('circle_ids').select(['circle_id', 'entity_id']).where('kind', '=', 'wallet').where('circle_id', 'in', circleIds).execute()
    const walletOf = new Map(known.map((r) => [r.circle_id, r.entity_id]))

    const holdAt = (t: CircleTransfer, why: string) => {
      if (!t.createDate) return
      if (Date.now() - Date.parse(t.createDate) > holdMs) return void logger.warn({ circleTransferId: t.id, createDate: t.createDate }, `deposit ${why} for too long; no longer waiting for it`)
      if (pass.hold === undefined || t.createDate < pass.hold) pass.hold = t.createDate
    }
    for (const t of inbound) {
      const circleWalletId = (t.destination as { id: string }).id
      if (t.amount === undefined) {
        // Not USDC: never credited as if it were, so never worth holding the mark for (reconciliation
        // reports it as an unknown deposit).
        logger.warn({ circleTransferId: t.id, circleWalletId, amount: t.amountText, currency: t.currency }, 'deposit in a currency the ledger does not book; not credited')
        continue
      }
      if (t.amount === 0n) {
        // A zero-value transfer (address poisoning sends them) credits nothing: not a deposit to record.
        logger.info({ circleTransferId: t.id, circleWalletId }, 'zero-value inbound transfer; nothing to credit')
        continue
      }
      const walletId = walletOf.get(circleWalletId)
      if (walletId === undefined) {
        // USDC sent on-chain to the treasury funds it: no wallet of ours to credit, nothing to wait for.
        if (circleWalletId === (pass.master ??= await circle.masterWalletId())) {
          logger.info({ circleTransferId: t.id, amount: t.amountText }, 'treasury funded by an on-chain transfer')
          continue
        }
        holdAt(t, 'to an unknown Circle wallet')
        continue
      }
      if (t.status !== 'complete') {
        holdAt(t, 'pending at Circle')
        continue
      }
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
        // cannot take) must not stop the poll: the deposits after it would never be credited. Listing
        // it again would get the same answer, so it does not hold the mark; reconciliation reports it.
        // Anything else (a lost race on a busy wallet, the database) fails the pass, which is retried.
        if (!(err instanceof DomainError && PERMANENT_REFUSALS.has(err.code))) throw err
        logger.error({ err, circleTransferId: t.id, walletId }, 'the ledger refused a deposit listed at Circle; not credited')
        continue
      }
      if (result.appended.some((a) => a.events.length > 0)) pass.recorded++
      logSteps(logger, result.appended, { operationId: t.id, actor: 'deposit-poller' }, this.options.metrics)
    }
  }
}

/** What one poll has found so far, page after page. */
interface Pass {
  /** The creation time of the oldest deposit still worth listing again (pending, or to a wallet not known yet). */
  hold: string | undefined
  /** The newest creation time listed. */
  newest: string | undefined
  recorded: number
  /** The master wallet's Circle id, once asked for. */
  master: string | undefined
}
