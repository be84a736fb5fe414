import type { Notification, NotificationStatus } from '../adapters/nats/notification.ts'
import { NOTIFICATION_SCHEMA_VERSION } from '../adapters/nats/notification.ts'
import { bankAccount, type BankAccountState } from '../events/bank-account.ts'
import { card, type CardState } from '../events/card.ts'
import { deposit, type DepositEvent, type DepositState } from '../events/deposit.ts'
import type { EventStore, RecordedEvent } from '../events/event-store.ts'
import { exists, type Failure, type StreamType } from '../events/event.ts'
import { foldEvents, STATE_CACHE_ENTRIES, type AnyEvent } from '../events/fold.ts'
import { mint, type MintState } from '../events/mint.ts'
import { formatAmount } from '../events/money.ts'
import { reconciliation, type ReconciliationState } from '../events/reconciliation.ts'
import { redeem, type RedeemState } from '../events/redeem.ts'
import { setRecent } from '../recent.ts'
import { parseStreamName, streamPrefix } from '../events/stream-name.ts'
import { transfer, type TransferState } from '../events/transfer.ts'
import { wallet, type WalletEvent, type WalletState } from '../events/wallet.ts'

/** A notification before the event's own fields (id, position, time) are added. */
type Draft = Omit<Notification, 'schemaVersion' | 'eventId' | 'occurredAt' | 'position'>

/** How one stream type turns an event, with the state before and after it, into at most one status change. */
interface StreamNotifications<S> {
  type: StreamType<S, AnyEvent>
  change(event: RecordedEvent, before: S, after: S): Draft | undefined
  /**
   * Event types that never change what `change` looks at, so they never notify: the state before
   * one need not be folded to know that. A long wallet's funds movements, say: without this, the
   * first of them after a start would fold the whole wallet for nothing.
   */
  silent?: ReadonlySet<string>
}

const none = { walletId: null, ownerId: null, amount: null, currency: null, circleId: null, txHash: null, failure: null } as const

const status = (s: string): NotificationStatus | null => (s === 'none' ? null : (s as NotificationStatus))
const money = (micro: bigint | undefined) => (micro === undefined ? { amount: null, currency: null } : { amount: formatAmount(micro), currency: 'USD' as const })
const failureOf = (s: NotificationStatus, failure: Failure | undefined) => (s === 'failed' && failure ? { code: failure.code, message: failure.message } : null)

/** The state's status changed: the resource's notification, built by `build` from the state after. */
function changed<S extends { status: string }>(
  before: S,
  after: S,
  build: (after: Exclude<S, { status: 'none' }>, s: NotificationStatus, previous: NotificationStatus | null) => Draft,
): Draft | undefined {
  if (before.status === after.status || !exists(after)) return undefined
  const s = status(after.status)
  return s === null ? undefined : build(after, s, status(before.status))
}

/** The wallet events that move funds or flag an operation: no wallet status, no address status. */
export const SILENT_WALLET_EVENTS: ReadonlySet<WalletEvent['type']> = new Set([
  'FundsReserved',
  'ReservationReleased',
  'FundsDebited',
  'FundsCredited',
  'OperationNeedsAttention',
  'OperationAttentionCleared',
] as const)

const walletNotifications: StreamNotifications<WalletState> = {
  type: wallet,
  silent: SILENT_WALLET_EVENTS,
  change(event, before, after) {
    const data = event.data as { addressId?: unknown }
    if (typeof data.addressId === 'string') {
      const was = before.addresses[data.addressId]
      const now = after.addresses[data.addressId]
      if (!now || was?.status === now.status || !exists(after)) return undefined
      return {
        ...none,
        resource: 'address',
        id: now.addressId,
        walletId: after.walletId,
        status: now.status,
        previousStatus: was?.status ?? null,
        failure: failureOf(now.status, now.failure),
      }
    }
    return changed(before, after, (a, s, previousStatus) => ({
      ...none,
      resource: 'wallet',
      id: a.walletId,
      walletId: a.walletId,
      ownerId: a.ownerId ?? null,
      status: s,
      previousStatus,
      circleId: a.circleWalletId ?? null,
      failure: failureOf(s, a.failure),
    }))
  },
}

const bankAccountNotifications: StreamNotifications<BankAccountState> = {
  type: bankAccount,
  change: (_event, before, after) =>
    changed(before, after, (a, s, previousStatus) => ({
      ...none,
      resource: 'bank_account',
      id: a.bankAccountId,
      ownerId: a.ownerId ?? null,
      status: s,
      previousStatus,
      circleId: a.circleWireId ?? null,
      failure: failureOf(s, a.failure),
    })),
}

const mintNotifications: StreamNotifications<MintState> = {
  type: mint,
  change: (_event, before, after) =>
    changed(before, after, (a, s, previousStatus) => ({
      ...none,
      resource: 'mint',
      id: a.mintId,
      walletId: a.walletId,
      status: s,
      previousStatus,
      ...money(a.amount),
      circleId: a.circleTransferId ?? null,
      failure: failureOf(s, a.failure),
    })),
}

const redeemNotifications: StreamNotifications<RedeemState> = {
  type: redeem,
  change: (_event, before, after) =>
    changed(before, after, (a, s, previousStatus) => ({
      ...none,
      resource: 'redeem',
      id: a.redeemId,
      walletId: a.walletId,
      status: s,
      previousStatus,
      ...money(a.amount),
      circleId: a.circlePayoutId ?? a.circleTransferId ?? null,
      failure: failureOf(s, a.failure),
    })),
}

const transferNotifications: StreamNotifications<TransferState> = {
  type: transfer,
  change: (_event, before, after) =>
    changed(before, after, (a, s, previousStatus) => ({
      ...none,
      resource: 'transfer',
      id: a.transferId,
      walletId: a.sourceWalletId,
      status: s,
      previousStatus,
      ...money(a.amount),
      circleId: a.circleTransferId ?? null,
      txHash: a.txHash ?? null,
      failure: failureOf(s, a.failure),
    })),
}

const depositNotifications: StreamNotifications<DepositState> = {
  type: deposit,
  change(event, before, after) {
    // The deposit state keeps only what deciding needs; Circle's ids come from the event itself.
    const data = (event as unknown as DepositEvent).data
    return changed(before, after, (a, s, previousStatus) => ({
      ...none,
      resource: 'deposit',
      id: data.depositId,
      walletId: data.walletId,
      status: s,
      previousStatus,
      ...money(a.amount),
      circleId: data.circleTransferId,
      txHash: data.txHash ?? null,
    }))
  },
}

const cardNotifications: StreamNotifications<CardState> = {
  type: card,
  // Only status, ids and the failure: never the card number (we do not hold it) nor its last digits.
  change: (_event, before, after) =>
    changed(before, after, (a, s, previousStatus) => ({
      ...none,
      resource: 'card',
      id: a.cardId,
      walletId: a.walletId,
      status: s,
      previousStatus,
      failure: failureOf(s, a.failure),
    })),
}

/**
 * A reconciliation run's outcome: `ledger.v1.reconciliation.<clean|mismatches|failed>.none`, the
 * run id as `id`; a run that could not finish carries its error as the failure.
 */
const reconciliationNotifications: StreamNotifications<ReconciliationState> = {
  type: reconciliation,
  change(event, before, after) {
    if (after.status !== 'completed' || before.status === 'completed' || !after.outcome) return undefined
    const data = event.data as { runId: string; error?: string }
    return {
      ...none,
      resource: 'reconciliation',
      id: data.runId,
      status: after.outcome,
      previousStatus: null,
      failure: after.outcome === 'failed' ? { code: 'reconciliation_failed', message: data.error ?? 'the run could not finish' } : null,
    }
  },
}

/** Stream types whose events can change a status, by stream category. */
const byCategory = new Map<string, StreamNotifications<any>>(
  [walletNotifications, bankAccountNotifications, mintNotifications, redeemNotifications, transferNotifications, depositNotifications, cardNotifications, reconciliationNotifications].map((n) => [
    n.type.category,
    n,
  ]),
)

/** Stream name prefixes the notifier subscribes to. */
export const NOTIFYING_STREAM_PREFIXES = [...byCategory.keys()].map(streamPrefix)

interface Folded {
  state: unknown
  revision: number
}

/**
 * Turns recorded events into notifications. A status change needs the state just before the
 * event, so it folds each stream up to the event's revision: the state after the previous event
 * is kept (bounded, least recently used out) and topped up from the store when events were
 * skipped or forgotten. Read models are not used: they are written by another subscriber and may
 * lag behind this one.
 */
export class NotificationMapper {
  private readonly store: EventStore
  private readonly states = new Map<string, Folded>()
  private readonly maxEntries: number

  constructor(store: EventStore, maxEntries = STATE_CACHE_ENTRIES) {
    this.store = store
    this.maxEntries = maxEntries
  }

  /** The notification of one event, or undefined when it changes no status. */
  async map(event: RecordedEvent): Promise<Notification | undefined> {
    const kind = byCategory.get(parseStreamName(event.stream).category)
    if (!kind) return undefined
    // A silent event is mapped (and the kept state moved on) only when the state before it is kept:
    // otherwise no read is worth it, and the next event that can notify folds the gap.
    if (kind.silent?.has(event.type) && this.states.get(event.stream)?.revision !== event.revision - 1) return undefined
    const before = await this.stateBefore(kind.type, event)
    const after = kind.type.evolve(before, event as AnyEvent)
    this.remember(event.stream, { state: after, revision: event.revision })
    const draft = kind.change(event, before, after)
    if (!draft) return undefined
    return { schemaVersion: NOTIFICATION_SCHEMA_VERSION, eventId: event.id, ...draft, occurredAt: event.metadata.occurredAt, position: event.position }
  }

  private async stateBefore<S>(type: StreamType<S, AnyEvent>, event: RecordedEvent): Promise<S> {
    const cached = this.states.get(event.stream)
    // A redelivered event (a retry after a failure) is older than what is kept: fold again from the start.
    let folded: Folded = cached && cached.revision < event.revision ? cached : { state: type.initialState, revision: -1 }
    while (folded.revision < event.revision - 1) {
      const events = await this.store.readStream(event.stream, { fromRevision: folded.revision + 1, maxCount: Math.min(1000, event.revision - 1 - folded.revision) })
      const last = events.at(-1)
      if (last === undefined) throw new Error(`stream ${event.stream} has no revision ${folded.revision + 1} though revision ${event.revision} was delivered`)
      folded = { state: foldEvents(type, events, folded.state as S), revision: last.revision }
    }
    return folded.state as S
  }

  private remember(stream: string, folded: Folded): void {
    setRecent(this.states, stream, folded, this.maxEntries)
  }
}
