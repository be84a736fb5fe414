import type { CirclePort } from '../adapters/circle/port.ts'
import type { Db } from '../adapters/postgres/database.ts'
import { formatAmount } from '../events/money.ts'
import { wallet } from '../events/wallet.ts'
import type { Finding } from './runs.ts'

/** An operation that moves a wallet's money and has not settled in the ledger yet. */
interface InFlight {
  operation: 'mint' | 'redeem' | 'transfer'
  id: string
  status: string
  direction: 'in' | 'out'
  amount: bigint
}

interface LedgerWallet {
  id: string
  circleWalletId: string
  /** available + reserved: reservations are still in the wallet at Circle until their operation leaves. */
  total: bigint
}

async function inFlight(db: Db, walletIds?: string[]): Promise<Map<string, InFlight[]>> {
  const open = ['pending', 'processing']
  const by = new Map<string, InFlight[]>()
  const add = (walletId: string, f: InFlight) => by.set(walletId, [...(by.get(walletId) ?? []), f])
  const limit = <T extends { wallet_id: string }>(rows: T[]) => (walletIds ? rows.filter((r) => walletIds.includes(r.wallet_id)) : rows)
  for (const r of limit(await db.selectFrom('mints').select(['id', 'wallet_id', 'status', 'amount']).where('status', 'in', open).execute())) {
    add(r.wallet_id, { operation: 'mint', id: r.id, status: r.status, direction: 'in', amount: BigInt(r.amount) })
  }
  for (const r of limit(await db.selectFrom('redeems').select(['id', 'wallet_id', 'status', 'amount']).where('status', 'in', open).execute())) {
    add(r.wallet_id, { operation: 'redeem', id: r.id, status: r.status, direction: 'out', amount: BigInt(r.amount) })
  }
  const transfers = await db.selectFrom('transfers').select(['id', 'wallet_id', 'destination_wallet_id', 'status', 'amount']).where('status', 'in', open).execute()
  for (const r of transfers) {
    if (!walletIds || walletIds.includes(r.wallet_id)) add(r.wallet_id, { operation: 'transfer', id: r.id, status: r.status, direction: 'out', amount: BigInt(r.amount) })
    if (r.destination_wallet_id && (!walletIds || walletIds.includes(r.destination_wallet_id))) {
      add(r.destination_wallet_id, { operation: 'transfer', id: r.id, status: r.status, direction: 'in', amount: BigInt(r.amount) })
    }
  }
  return by
}

async function ledgerWallets(db: Db, ids?: string[]): Promise<LedgerWallet[]> {
  let q = db.selectFrom('wallets').select(['id', 'circle_wallet_id', 'available', 'reserved']).where('status', '=', 'active').where('circle_wallet_id', 'is not', null)
  if (ids) q = q.where('id', 'in', ids)
  const rows = await q.orderBy('created_at').execute()
  return rows.flatMap((r) => (r.circle_wallet_id === null ? [] : [{ id: r.id, circleWalletId: r.circle_wallet_id, total: BigInt(r.available) + BigInt(r.reserved) }]))
}

/**
 * Whether Circle's balance can be the ledger's: Circle takes money out when an operation is sent
 * and puts it in when it settles, the ledger the other way round for outgoing money (reserved at
 * request, debited at completion), so each operation in flight widens the acceptable range by its
 * amount in its direction. With nothing in flight the two must be equal.
 */
function explains(ledger: bigint, circle: bigint, flights: InFlight[]): boolean {
  const out = flights.filter((f) => f.direction === 'out').reduce((s, f) => s + f.amount, 0n)
  const into = flights.filter((f) => f.direction === 'in').reduce((s, f) => s + f.amount, 0n)
  return circle >= ledger - out && circle <= ledger + into
}

export interface BalanceResult {
  findings: Finding[]
  checked: number
  /** Our Circle wallet ids, for the listing of unknown resources. */
  circleWalletIds: string[]
}

/**
 * Each active wallet's read-model balance against Circle's. A difference is looked at twice (the
 * read models may have been catching up with an operation that settled between the two reads)
 * before it becomes a finding.
 */
export async function checkBalances(
  deps: { db: Db; circle: CirclePort; signal?: AbortSignal | undefined },
  options: { concurrency: number; recheckMs: number },
  onProgress: (done: number, total: number) => void,
): Promise<BalanceResult> {
  const wallets = await ledgerWallets(deps.db)
  let flights = await inFlight(deps.db)
  const suspects: LedgerWallet[] = []
  const findings: Finding[] = []
  let next = 0
  let done = 0
  const worker = async () => {
    while (next < wallets.length) {
      deps.signal?.throwIfAborted()
      const w = wallets[next++]
      if (w === undefined) break
      try {
        const circle = await deps.circle.getWallet(w.circleWalletId)
        if (!explains(w.total, circle.balance, flights.get(w.id) ?? [])) suspects.push(w)
      } catch (err) {
        findings.push(checkFailed(w, err))
      }
      onProgress(++done, wallets.length)
    }
  }
  await Promise.all(Array.from({ length: Math.max(1, options.concurrency) }, worker))

  if (suspects.length > 0) {
    await new Promise((r) => setTimeout(r, options.recheckMs))
    const ids = suspects.map((s) => s.id)
    flights = await inFlight(deps.db, ids)
    for (const w of await ledgerWallets(deps.db, ids)) {
      deps.signal?.throwIfAborted()
      let circle
      try {
        circle = await deps.circle.getWallet(w.circleWalletId)
      } catch (err) {
        // One wallet Circle did not answer for is a finding of its own, as in the first pass: the run goes on.
        findings.push(checkFailed(w, err))
        continue
      }
      const open = flights.get(w.id) ?? []
      if (explains(w.total, circle.balance, open)) continue
      findings.push({
        kind: 'balance_mismatch',
        subject: wallet.streamName(w.id),
        circleId: w.circleWalletId,
        details: {
          walletId: w.id,
          circleWalletId: w.circleWalletId,
          ledgerBalance: formatAmount(w.total),
          circleBalance: formatAmount(circle.balance),
          difference: formatSigned(circle.balance - w.total),
          inFlight: open.map((f) => ({ operation: f.operation, id: f.id, status: f.status, direction: f.direction, amount: formatAmount(f.amount) })),
        },
      })
    }
  }
  return { findings, checked: wallets.length, circleWalletIds: wallets.map((w) => w.circleWalletId) }
}

/** A wallet whose balance Circle did not give: a finding of its own, and the run goes on. */
const checkFailed = (w: LedgerWallet, err: unknown): Finding => ({
  kind: 'check_failed',
  subject: wallet.streamName(w.id),
  details: { check: 'balance', walletId: w.id, error: err instanceof Error ? err.message : String(err) },
})

const formatSigned = (v: bigint) => (v < 0n ? `-${formatAmount(-v)}` : formatAmount(v))
