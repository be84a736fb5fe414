import { randomUUID } from 'node:crypto'
import type pg from 'pg'
import type { EventStore, NewEvent, StreamAppend } from '../../src/events/event-store.ts'
import type { DomainEvent } from '../../src/events/types.ts'

/** What was generated: events per type (for the projections' expected counts) and the log's size. */
export interface Generated {
  events: number
  byType: Map<string, number>
  wallets: number
  operations: Record<'mint' | 'transfer' | 'transferFailed' | 'redeem' | 'deposit', number>
}

const USD = 1_000_000n

/** Writes one call's appends (each stream once, events in order) atomically. */
export type Writer = (appends: StreamAppend[]) => Promise<void>

/** Through the store's own batch append: one `appendMulti` per call. */
export const storeWriter = (store: EventStore): Writer => async (appends) => {
  await store.appendMulti(appends)
}

/**
 * Straight into the store's tables, as its append function writes them (positions from the head
 * on, revisions from 0 per stream, the streams table and the head row kept), one transaction and
 * three statements per call, calls one after another. The store's batch append builds its arrays
 * event by event in PL/pgSQL, which at 10,000 events a call wrote about 1,300 events/s here; this
 * writes the same rows an order of magnitude faster, so a million events take well under a minute.
 */
export function sqlWriter(pool: pg.Pool): Writer {
  const revisions = new Map<string, number>()
  let head: bigint | undefined
  let chain = Promise.resolve()
  return (appends) => {
    const write = async () => {
      const client = await pool.connect()
      try {
        await client.query('BEGIN')
        if (head === undefined) head = BigInt((await client.query<{ position: string }>('SELECT position FROM event_head WHERE id FOR UPDATE')).rows[0]!.position)
        const cols = { position: [] as string[], stream: [] as string[], revision: [] as number[], id: [] as string[], type: [] as string[], data: [] as string[], metadata: [] as string[], at: [] as string[] }
        const streams: string[] = []
        const streamRevisions: number[] = []
        let position = head
        for (const a of appends) {
          let revision = revisions.get(a.stream) ?? -1
          for (const e of a.events) {
            position++
            revision++
            cols.position.push(position.toString())
            cols.stream.push(a.stream)
            cols.revision.push(revision)
            cols.id.push(e.id)
            cols.type.push(e.type)
            cols.data.push(JSON.stringify(e.data))
            cols.metadata.push(JSON.stringify(e.metadata))
            cols.at.push(e.metadata.occurredAt)
          }
          revisions.set(a.stream, revision)
          streams.push(a.stream)
          streamRevisions.push(revision)
        }
        await client.query(
          `INSERT INTO events (position, stream, revision, event_id, type, data, metadata, recorded_at)
           SELECT * FROM unnest($1::bigint[], $2::text[], $3::int[], $4::uuid[], $5::text[], $6::jsonb[], $7::jsonb[], $8::timestamptz[])`,
          [cols.position, cols.stream, cols.revision, cols.id, cols.type, cols.data, cols.metadata, cols.at],
        )
        await client.query(
          `INSERT INTO streams (stream, revision) SELECT * FROM unnest($1::text[], $2::int[])
           ON CONFLICT (stream) DO UPDATE SET revision = excluded.revision`,
          [streams, streamRevisions],
        )
        await client.query('UPDATE event_head SET position = $1 WHERE id', [position.toString()])
        await client.query('COMMIT')
        head = position
      } catch (err) {
        await client.query('ROLLBACK').catch(() => undefined)
        throw err
      } finally {
        client.release()
      }
    }
    const p = chain.then(write)
    chain = p.catch(() => undefined)
    return p
  }
}

/**
 * Writes about `total` events shaped as the service records them, a call of about `callEvents`
 * events at a time (several streams, each once): wallets created with a
 * deposit address, bank accounts linked and cards issued, then a mix of operations, each whole in one
 * call with the wallet events the commands record beside it (mints 25%, wallet-to-wallet transfers
 * 55% of which 1 in 20 fails, redeems 10%, deposits 10%). Balances are tracked so no wallet spends
 * more than it holds: every projection and the journal's check accept the log.
 */
export async function generateEvents(
  write: Writer,
  total: number,
  options: { callEvents?: number; inFlight?: number; onProgress?: (written: number, total: number) => void } = {},
): Promise<Generated> {
  const callEvents = options.callEvents ?? 10_000
  const inFlight = options.inFlight ?? 3
  const walletCount = Math.max(8, Math.round(total / 500))
  const byType = new Map<string, number>()
  const operations = { mint: 0, transfer: 0, transferFailed: 0, redeem: 0, deposit: 0 }
  let clock = Date.parse('2026-01-01T00:00:00Z')
  let written = 0

  /** One call's appends, by stream, events in order. */
  let call = new Map<string, { expected: StreamAppend['expected']; events: NewEvent[] }>()
  let callSize = 0
  const pending = new Set<Promise<unknown>>()

  const add = (stream: string, expected: StreamAppend['expected'], event: DomainEvent, correlationId: string, actor: string) => {
    clock += 7
    let entry = call.get(stream)
    if (!entry) call.set(stream, (entry = { expected, events: [] }))
    entry.events.push({
      id: randomUUID(),
      type: event.type,
      data: event.data,
      metadata: { correlationId, causationId: randomUUID(), actor, requestId: randomUUID(), idempotencyKey: randomUUID(), occurredAt: new Date(clock).toISOString() },
    })
    byType.set(event.type, (byType.get(event.type) ?? 0) + 1)
    callSize++
  }
  const flush = async () => {
    if (callSize === 0) return
    const appends = [...call].map(([stream, a]) => ({ stream, expected: a.expected, events: a.events }))
    const size = callSize
    call = new Map()
    callSize = 0
    const p = write(appends).then(() => {
      written += size
      options.onProgress?.(written, total)
    })
    pending.add(p)
    void p.finally(() => pending.delete(p)).catch(() => undefined)
    if (pending.size >= inFlight) await Promise.race(pending)
  }

  // Wallets with a deposit address; one in ten owners links a bank account and has a card issued.
  const wallets = Array.from({ length: walletCount }, () => ({ id: randomUUID(), available: 0n }))
  const bankAccounts: string[] = []
  for (const [i, w] of wallets.entries()) {
    const stream = `wallet-${w.id}`
    const ownerId = `owner-${i}`
    const addressId = randomUUID()
    add(stream, 'no_stream', { type: 'WalletCreationRequested', data: { walletId: w.id, ownerId } }, w.id, 'bench-backend')
    add(stream, 'no_stream', { type: 'WalletCreated', data: { walletId: w.id, circleWalletId: String(1_000_000_000 + i) } }, w.id, 'process-manager')
    add(stream, 'no_stream', { type: 'DepositAddressRequested', data: { walletId: w.id, addressId, chain: 'ETH' } }, w.id, 'bench-backend')
    add(stream, 'no_stream', { type: 'DepositAddressCreated', data: { walletId: w.id, addressId, chain: 'ETH', address: `0x${randomUUID().replaceAll('-', '')}` } }, w.id, 'process-manager')
    if (i % 10 === 0) {
      const bankAccountId = randomUUID()
      const bank = `bankaccount-${bankAccountId}`
      const wireId = randomUUID()
      bankAccounts.push(bankAccountId)
      add(bank, 'no_stream', { type: 'BankAccountLinkRequested', data: { bankAccountId, ownerId, accountType: 'iban', last4: '4321', holderName: `Owner ${i}`, country: 'DE' } }, bankAccountId, 'bench-backend')
      add(bank, 'no_stream', { type: 'BankAccountSubmitted', data: { bankAccountId, circleWireId: wireId } }, bankAccountId, 'process-manager')
      add(bank, 'no_stream', { type: 'BankAccountLinked', data: { bankAccountId, circleWireId: wireId } }, bankAccountId, 'circle-webhook')
      const cardId = randomUUID()
      const card = `card-${cardId}`
      add(card, 'no_stream', { type: 'CardRequested', data: { cardId, walletId: w.id, cardholderName: `Owner ${i}` } }, cardId, 'bench-backend')
      add(card, 'no_stream', { type: 'CardIssued', data: { cardId, issuerCardId: randomUUID(), last4: '1234', expMonth: 12, expYear: 2030, network: 'VISA' } }, cardId, 'process-manager')
    }
    if (callSize >= callEvents) await flush()
  }
  await flush()
  // Every wallet exists before any operation names it.
  await Promise.all(pending)

  const pick = () => wallets[Math.floor(Math.random() * wallets.length)]!
  const amount = (maxUsd: number) => (BigInt(1 + Math.floor(Math.random() * maxUsd * 100)) * USD) / 100n
  const wallet = (id: string) => `wallet-${id}`
  let generated = callSize + written
  while (generated < total) {
    const roll = Math.random()
    const before = callSize
    if (roll < 0.25) {
      // A mint: requested, treasury checked, submitted, completed with the wallet's credit.
      const w = pick()
      const mintId = randomUUID()
      const circleTransferId = randomUUID()
      const value = amount(1000)
      const s = `mint-${mintId}`
      add(s, 'no_stream', { type: 'MintRequested', data: { mintId, walletId: w.id, amount: value.toString() } }, mintId, 'bench-backend')
      add(s, 'no_stream', { type: 'MintTreasuryChecked', data: { mintId, treasuryAvailable: (10n ** 15n).toString() } }, mintId, 'process-manager')
      add(s, 'no_stream', { type: 'MintSubmitted', data: { mintId, circleTransferId } }, mintId, 'process-manager')
      add(s, 'no_stream', { type: 'MintCompleted', data: { mintId, circleTransferId } }, mintId, 'circle-webhook')
      add(wallet(w.id), 'any', { type: 'FundsCredited', data: { walletId: w.id, operationId: mintId, amount: value.toString(), source: 'mint' } }, mintId, 'circle-webhook')
      w.available += value
      operations.mint++
    } else if (roll < 0.8) {
      const from = pick()
      let to = pick()
      while (to === from) to = pick()
      const value = amount(20)
      if (from.available < value) continue
      const transferId = randomUUID()
      const circleTransferId = randomUUID()
      const s = `transfer-${transferId}`
      add(s, 'no_stream', { type: 'TransferRequested', data: { transferId, sourceWalletId: from.id, destination: { type: 'wallet', walletId: to.id }, amount: value.toString() } }, transferId, 'bench-backend')
      add(wallet(from.id), 'any', { type: 'FundsReserved', data: { walletId: from.id, operationId: transferId, amount: value.toString() } }, transferId, 'bench-backend')
      add(s, 'no_stream', { type: 'TransferSubmitted', data: { transferId, circleTransferId } }, transferId, 'process-manager')
      if (Math.random() < 0.05) {
        add(s, 'no_stream', { type: 'TransferFailed', data: { transferId, failure: { code: 'insufficient_funds', message: 'declined by Circle' } } }, transferId, 'circle-webhook')
        add(wallet(from.id), 'any', { type: 'ReservationReleased', data: { walletId: from.id, operationId: transferId, amount: value.toString() } }, transferId, 'circle-webhook')
        operations.transferFailed++
      } else {
        add(s, 'no_stream', { type: 'TransferCompleted', data: { transferId, circleTransferId } }, transferId, 'circle-webhook')
        add(wallet(from.id), 'any', { type: 'FundsDebited', data: { walletId: from.id, operationId: transferId, amount: value.toString() } }, transferId, 'circle-webhook')
        add(wallet(to.id), 'any', { type: 'FundsCredited', data: { walletId: to.id, operationId: transferId, amount: value.toString(), source: 'transfer' } }, transferId, 'circle-webhook')
        from.available -= value
        to.available += value
        operations.transfer++
      }
    } else if (roll < 0.9) {
      const w = pick()
      const value = amount(50)
      if (w.available < value || bankAccounts.length === 0) continue
      const redeemId = randomUUID()
      const bankAccountId = bankAccounts[Math.floor(Math.random() * bankAccounts.length)]!
      const circleTransferId = randomUUID()
      const circlePayoutId = randomUUID()
      const s = `redeem-${redeemId}`
      add(s, 'no_stream', { type: 'RedeemRequested', data: { redeemId, walletId: w.id, bankAccountId, amount: value.toString() } }, redeemId, 'bench-backend')
      add(wallet(w.id), 'any', { type: 'FundsReserved', data: { walletId: w.id, operationId: redeemId, amount: value.toString() } }, redeemId, 'bench-backend')
      add(s, 'no_stream', { type: 'RedeemTransferSubmitted', data: { redeemId, circleTransferId } }, redeemId, 'process-manager')
      add(s, 'no_stream', { type: 'RedeemTransferCompleted', data: { redeemId, circleTransferId } }, redeemId, 'circle-webhook')
      add(s, 'no_stream', { type: 'RedeemPayoutSubmitted', data: { redeemId, circlePayoutId } }, redeemId, 'process-manager')
      add(s, 'no_stream', { type: 'RedeemCompleted', data: { redeemId, circlePayoutId } }, redeemId, 'circle-webhook')
      add(wallet(w.id), 'any', { type: 'FundsDebited', data: { walletId: w.id, operationId: redeemId, amount: value.toString() } }, redeemId, 'circle-webhook')
      w.available -= value
      operations.redeem++
    } else {
      const w = pick()
      const circleTransferId = randomUUID()
      const value = amount(200)
      add(`deposit-${circleTransferId}`, 'no_stream', { type: 'DepositCompleted', data: { depositId: circleTransferId, walletId: w.id, circleTransferId, amount: value.toString(), chain: 'ETH', txHash: `0x${randomUUID().replaceAll('-', '')}` } }, circleTransferId, 'circle-webhook')
      add(wallet(w.id), 'any', { type: 'FundsCredited', data: { walletId: w.id, operationId: `deposit:${circleTransferId}`, amount: value.toString(), source: 'deposit' } }, circleTransferId, 'circle-webhook')
      w.available += value
      operations.deposit++
    }
    generated += callSize - before
    if (callSize >= callEvents) await flush()
  }
  await flush()
  await Promise.all(pending)
  return { events: written, byType, wallets: walletCount, operations }
}
