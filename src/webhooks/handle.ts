import type { Logger } from 'pino'
import { z } from 'zod'
import type { CardIssuer } from '../adapters/card-issuer/port.ts'
import type { Db } from '../adapters/postgres/database.ts'
import { DomainError } from '../commands/errors.ts'
import { execute, type Decider } from '../commands/handler.ts'
import { deriveId, outcomeCommandId } from '../commands/ids.ts'
import { recordBankAccountOutcome } from '../commands/record-bank-account-outcome.ts'
import { recordCardOutcome } from '../commands/record-card-outcome.ts'
import { depositCommandId, recordDeposit, type RecordDeposit } from '../commands/record-deposit.ts'
import { recordMintOutcome } from '../commands/record-mint-outcome.ts'
import { compensationFailedName, recordRedeemOutcome, type RecordRedeemOutcome } from '../commands/record-redeem-outcome.ts'
import { recordTransferOutcome } from '../commands/record-transfer-outcome.ts'
import { card } from '../events/card.ts'
import type { EventStore } from '../events/event-store.ts'
import { fold } from '../events/fold.ts'
import { parseCircleAmount } from '../events/money.ts'
import { logSteps } from '../logger.ts'
import type { Metrics } from '../metrics.ts'
import { pendingChange, wakeWaiting } from '../process-manager/tasks.ts'
import { addressKey, findByCircleId } from '../projections/circle-ids.ts'
import type { InboxItem } from './inbox.ts'

export interface HandlerContext {
  store: EventStore
  db: Db
  issuer: Pick<CardIssuer, 'get'>
  masterWalletId: () => Promise<string>
  logger: Logger
  /** Counts the statuses the notifications record (`ledger_operations_total`), as for the process manager's. */
  metrics?: Pick<Metrics, 'countSteps'>
}

/**
 * What became of a notification: processed (recorded, or nothing to record); retry later, e.g.
 * because it names a Circle id our own record of the submission has not reached yet; or refused:
 * no retry can apply it, so it is set aside as a dead letter at once for a person to look at.
 */
export type Handled = { result: 'processed'; note?: string } | { result: 'retry'; reason: string } | { result: 'refused'; reason: string }

const processed = (note?: string): Handled => (note === undefined ? { result: 'processed' } : { result: 'processed', note })
const retry = (reason: string): Handled => ({ result: 'retry', reason })
const refused = (reason: string): Handled => ({ result: 'refused', reason })

/**
 * Only USD (USDC) is booked. A Circle wallet can also receive other currencies (EURC is 'EUR');
 * crediting one as USDC would make money out of nothing, so it is refused, as is an amount whose
 * currency is not said. A zero amount (address poisoning sends them) credits nothing: processed.
 */
function usdcAmount(what: string, money: { amount: string; currency?: string | undefined }): bigint | Handled {
  if (money.currency !== 'USD') return refused(`${what} of ${money.amount} ${money.currency ?? '(no currency)'} is not USDC; the ledger books USDC only and did not credit it`)
  const amount = parseCircleAmount(money.amount)
  return amount === 0n ? processed(`${what} is of zero value; nothing to credit`) : amount
}

const money = z.object({ amount: z.string(), currency: z.string().optional() })
const transferResource = z.object({
  id: z.string().min(1),
  status: z.string(),
  source: z.object({ type: z.string(), id: z.string().optional(), chain: z.string().optional() }).optional(),
  destination: z.object({ type: z.string(), id: z.string().optional(), address: z.string().optional(), addressTag: z.string().optional(), chain: z.string().optional() }).optional(),
  amount: money.optional(),
  transactionHash: z.string().optional(),
  errorCode: z.string().optional(),
})
const payoutResource = z.object({ id: z.string().min(1), status: z.string(), errorCode: z.string().optional() })
const wireResource = z.object({ id: z.string().min(1), status: z.string() })
const depositResource = z.object({
  id: z.string().min(1),
  status: z.string(),
  amount: money,
  destination: z.object({ type: z.string(), id: z.string().optional() }),
})
const cardResource = z.object({ id: z.string().min(1), status: z.string() })

/** Circle's resource statuses (and W3S's upper-case states) to the two that end an operation. */
function terminal(status: string): 'complete' | 'failed' | undefined {
  const s = status.toLowerCase()
  if (s === 'complete' || s === 'completed') return 'complete'
  if (s === 'failed' || s === 'denied' || s === 'cancelled' || s === 'canceled') return 'failed'
  return undefined
}

/**
 * Whether a notification can change anything: a transfer, payout, wire account or deposit that has
 * not ended yet (Circle sends one notification per transition) cannot, nor can a test ping. Those
 * are stored already processed, so the worker's time goes to the ones that matter.
 */
export function actionable(type: string, resource: Record<string, unknown>): boolean {
  if (type === 'webhooks.test') return false
  if (type === 'transfers' || type === 'payouts' || type === 'wire' || type === 'deposits') {
    return typeof resource.status !== 'string' || terminal(resource.status) !== undefined
  }
  return true
}

/**
 * Maps a verified notification to the record-outcome commands the process manager uses, with
 * actor `circle-webhook` and the same command ids, so a webhook and a poll reporting the same
 * outcome write it once. An outcome that contradicts what is recorded (a status moving backwards,
 * a late or duplicate report) appends nothing and is logged.
 */
export async function handleNotification(ctx: HandlerContext, item: InboxItem): Promise<Handled> {
  switch (item.type) {
    case 'webhooks.test':
      return processed('test notification')
    case 'transfers':
      return transfers(ctx, item)
    case 'payouts':
      return payouts(ctx, item)
    case 'wire':
      return wires(ctx, item)
    case 'deposits':
      return deposits(ctx, item)
    case 'cards':
      return cards(ctx, item)
    default:
      return processed(`notification type ${item.type} is not used by the ledger`)
  }
}

async function record<C, S>(ctx: HandlerContext, item: InboxItem, decider: Decider<C, S>, command: C, commandId: string): Promise<Handled> {
  try {
    const result = await execute(ctx.store, decider, command, { commandId, actor: 'circle-webhook', occurredAt: new Date().toISOString(), causationId: item.id })
    // One log line per step and its count, as when the process manager or the deposit poller records it.
    logSteps(ctx.logger, result.appended, { operationId: decider.correlationId(command), actor: 'circle-webhook' }, ctx.metrics)
    return processed(result.appended.length === 0 ? 'already recorded' : undefined)
  } catch (err) {
    if (err instanceof DomainError && (err.code === 'outcome_conflict' || err.code === 'invalid_transition')) {
      ctx.logger.warn({ notification: item.id, type: item.type, err: err.message }, 'webhook reports a status the ledger has moved past; ignored')
      return processed('contradicts the recorded state; ignored')
    }
    if (err instanceof DomainError && (err.code === 'not_found' || err.code === 'wallet_not_found')) return retry(err.message)
    throw err
  }
}

async function transfers(ctx: HandlerContext, item: InboxItem): Promise<Handled> {
  const t = transferResource.parse(item.resource)
  const end = terminal(t.status)
  if (!end) return processed(`transfer ${t.status}: nothing to record until it ends`)
  const link = await findByCircleId(ctx.db, t.id)
  if (!link) {
    if (t.source?.type === 'blockchain') return inboundDeposit(ctx, item, t, end)
    return retry(`Circle transfer ${t.id} is not known yet`)
  }
  const stream = link.stream
  const id = link.entity_id
  const failure = { code: t.errorCode ?? 'transfer_failed', message: 'Circle failed the transfer' }
  switch (link.kind) {
    case 'mint_transfer':
      return end === 'complete'
        ? record(ctx, item, recordMintOutcome, { mintId: id, outcome: { type: 'completed', circleTransferId: t.id } }, outcomeCommandId(stream, 'completed'))
        : record(ctx, item, recordMintOutcome, { mintId: id, outcome: { type: 'failed', failure } }, outcomeCommandId(stream, 'failed'))
    case 'transfer': {
      if (end === 'failed') return record(ctx, item, recordTransferOutcome, { transferId: id, outcome: { type: 'failed', failure } }, outcomeCommandId(stream, 'failed'))
      const outcome = t.transactionHash === undefined ? { type: 'completed' as const, circleTransferId: t.id } : { type: 'completed' as const, circleTransferId: t.id, txHash: t.transactionHash }
      return record(ctx, item, recordTransferOutcome, { transferId: id, outcome }, outcomeCommandId(stream, 'completed'))
    }
    case 'redeem_transfer': {
      const outcome: RecordRedeemOutcome['outcome'] =
        end === 'complete'
          ? { type: 'transfer_completed', circleTransferId: t.id }
          : { type: 'transfer_failed', failure: { ...failure, message: 'Circle failed the transfer to the master wallet' } }
      return record(ctx, item, recordRedeemOutcome, { redeemId: id, outcome }, outcomeCommandId(stream, outcome.type))
    }
    case 'redeem_compensation':
      if (end === 'failed') {
        // Recorded; the event wakes the process manager, whose bounded retries flag the redeem
        // compensation_failed until an admin's replay sends a new transfer back.
        ctx.logger.error({ redeemId: id, transferId: t.id }, 'redeem compensation transfer failed at Circle')
        const outcome: RecordRedeemOutcome['outcome'] = { type: 'compensation_failed', circleTransferId: t.id, failure: { ...failure, message: 'Circle failed the transfer back to the wallet' } }
        return record(ctx, item, recordRedeemOutcome, { redeemId: id, outcome }, outcomeCommandId(stream, compensationFailedName(t.id)))
      }
      return record(ctx, item, recordRedeemOutcome, { redeemId: id, outcome: { type: 'compensation_completed', circleTransferId: t.id } }, outcomeCommandId(stream, 'compensation_completed'))
    case 'deposit':
      return processed('deposit already recorded')
    default:
      return processed(`Circle id ${t.id} is a ${link.kind}, not a transfer`)
  }
}

/** An on-chain transfer into one of our wallets: a deposit, credited once by Circle's transfer id. */
async function inboundDeposit(ctx: HandlerContext, item: InboxItem, t: z.infer<typeof transferResource>, end: 'complete' | 'failed'): Promise<Handled> {
  if (end === 'failed') return processed('inbound transfer failed: nothing to credit')
  const walletId = await ourWallet(ctx, t.destination)
  if (!walletId) {
    if (t.destination?.type === 'wallet' && t.destination.id !== undefined && t.destination.id === (await ctx.masterWalletId())) {
      ctx.logger.info({ circleTransferId: t.id, amount: t.amount?.amount }, 'treasury funded by an on-chain transfer')
      return processed('treasury funded on-chain')
    }
    return retry(`inbound transfer ${t.id} names no wallet or address of ours (yet)`)
  }
  if (!t.amount) return processed('inbound transfer without an amount; nothing to credit')
  const amount = usdcAmount(`inbound transfer ${t.id}`, t.amount)
  if (typeof amount !== 'bigint') return amount
  const command: RecordDeposit = { circleTransferId: t.id, walletId, amount }
  const chain = t.destination?.chain ?? t.source?.chain
  if (chain !== undefined) command.chain = chain
  if (t.transactionHash !== undefined) command.txHash = t.transactionHash
  return record(ctx, item, recordDeposit, command, depositCommandId(t.id))
}

async function ourWallet(ctx: HandlerContext, destination: z.infer<typeof transferResource>['destination']): Promise<string | undefined> {
  if (!destination) return undefined
  if (destination.type === 'wallet' && destination.id) {
    const link = await findByCircleId(ctx.db, destination.id)
    if (link?.kind === 'wallet') return link.entity_id
  }
  const chain = destination.chain
  if (destination.address && chain) {
    const link = await findByCircleId(ctx.db, addressKey(chain, destination.address, destination.addressTag))
    if (link?.kind === 'address') return link.entity_id
  }
  return undefined
}

async function payouts(ctx: HandlerContext, item: InboxItem): Promise<Handled> {
  const p = payoutResource.parse(item.resource)
  const end = terminal(p.status)
  if (!end) return processed(`payout ${p.status}: nothing to record until it ends`)
  const link = await findByCircleId(ctx.db, p.id)
  if (!link) return retry(`Circle payout ${p.id} is not known yet`)
  if (link.kind !== 'redeem_payout') return processed(`Circle id ${p.id} is a ${link.kind}, not a payout`)
  const outcome: RecordRedeemOutcome['outcome'] =
    end === 'complete'
      ? { type: 'payout_completed', circlePayoutId: p.id }
      : { type: 'payout_failed', failure: { code: p.errorCode ?? 'payout_failed', message: 'Circle failed the wire payout' } }
  return record(ctx, item, recordRedeemOutcome, { redeemId: link.entity_id, outcome }, outcomeCommandId(link.stream, outcome.type))
}

async function wires(ctx: HandlerContext, item: InboxItem): Promise<Handled> {
  const w = wireResource.parse(item.resource)
  const end = terminal(w.status)
  if (!end) return processed(`wire account ${w.status}`)
  const link = await findByCircleId(ctx.db, w.id)
  if (!link) return retry(`Circle wire account ${w.id} is not known yet`)
  if (link.kind !== 'wire') return processed(`Circle id ${w.id} is a ${link.kind}, not a wire account`)
  const bankAccountId = link.entity_id
  return end === 'complete'
    ? record(ctx, item, recordBankAccountOutcome, { bankAccountId, outcome: { type: 'linked', circleWireId: w.id } }, outcomeCommandId(link.stream, 'linked'))
    : record(
        ctx,
        item,
        recordBankAccountOutcome,
        { bankAccountId, outcome: { type: 'failed', failure: { code: 'circle_wire_failed', message: 'Circle did not accept the wire account' } } },
        outcomeCommandId(link.stream, 'failed'),
      )
}

/** A fiat deposit (Circle Mint `deposits`): into the treasury funds it; into one of our wallets credits that wallet. */
async function deposits(ctx: HandlerContext, item: InboxItem): Promise<Handled> {
  const d = depositResource.parse(item.resource)
  const end = terminal(d.status)
  if (end !== 'complete') return processed(`deposit ${d.status}: nothing to credit`)
  if (d.destination.id !== undefined && d.destination.id === (await ctx.masterWalletId())) {
    ctx.logger.info({ depositId: d.id, amount: d.amount.amount }, 'treasury funded by a fiat deposit')
    return processed('treasury deposit')
  }
  const walletId = await ourWallet(ctx, d.destination)
  if (!walletId) return retry(`deposit ${d.id} names no wallet of ours (yet)`)
  const amount = usdcAmount(`deposit ${d.id}`, d.amount)
  if (typeof amount !== 'bigint') return amount
  return record(ctx, item, recordDeposit, { circleTransferId: d.id, walletId, amount }, depositCommandId(d.id))
}

/**
 * The issuer's card events. Issuer statuses toggle (active <-> frozen), so the payload's status
 * may be stale by the time it arrives; the issuer's current card is asked for instead, and a
 * difference from ours is recorded as CardStatusChanged unless our own change is still being
 * pushed to the issuer by the process manager, or waits behind a dead letter for an admin.
 */
async function cards(ctx: HandlerContext, item: InboxItem): Promise<Handled> {
  const c = cardResource.parse(item.resource)
  const link = await findByCircleId(ctx.db, c.id)
  if (!link) {
    // The issuer names its card id only in its answers, so an unknown card is one whose issuance the
    // process manager is still following: the event makes those issuances look again now.
    const woken = await wakeWaiting(ctx.db, 'card')
    return processed(`issuer card ${c.id} not recorded yet; ${woken} card tasks woken`)
  }
  if (link.kind !== 'card') return processed(`id ${c.id} is a ${link.kind}, not a card`)
  const { state } = await fold(ctx.store, card, link.entity_id)
  const current = await ctx.issuer.get(c.id)
  if (current.status === state.status || current.status === 'pending' || current.status === 'failed') return processed('card status unchanged')
  const pending = await pendingChange(ctx.db, link.stream)
  if (pending?.state === 'pushing') return processed('our own change is still being pushed to the issuer')
  // The issuer never heard of our change (a freeze of a lost card, say), so its status must not undo
  // it. A close at the issuer is final: recorded.
  if (pending?.state === 'parked' && current.status !== 'closed') return processed(`our own change waits for dead letter ${pending.deadLetterId} to be replayed`)
  return record(
    ctx,
    item,
    recordCardOutcome,
    { cardId: link.entity_id, outcome: { type: 'status_changed', status: current.status, reason: 'issuer' } },
    deriveId(link.stream, 'issuer-status', item.id),
  )
}
