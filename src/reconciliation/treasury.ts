import type { CirclePort } from '../adapters/circle/port.ts'
import type { Db } from '../adapters/postgres/database.ts'
import { formatAmount } from '../events/money.ts'
import type { Finding } from './runs.ts'

/**
 * The treasury as one run saw it, micro-unit strings. `base` is what the business balance would be
 * without any operation of ours (initial funding plus top-ups): Circle's balance less the settled
 * effect of our operations, a range while operations are in flight.
 */
export interface TreasurySnapshot {
  circleBalance: string
  settledEffect: string
  baseLow: string
  baseHigh: string
}

interface LedgerView {
  /** Completed mints took money out of the treasury; everything else settled nets to zero. */
  settled: bigint
  /** In-flight operations: how far below and above the settled effect Circle may be. */
  low: bigint
  high: bigint
  inFlight: { operation: 'mint' | 'redeem'; id: string; status: string; amount: string }[]
}

/**
 * The treasury effect of the ledger's operations as Circle books them: a mint leaves the treasury
 * when its transfer is sent (back if it fails); a redeem's USDC arrives with step 1 and leaves with
 * the payout (a failed payout comes back and is sent back to the wallet). So a mint in flight is
 * between -amount and 0, a redeem in flight between 0 and +amount.
 */
async function ledgerView(db: Db): Promise<LedgerView> {
  const open = ['pending', 'processing']
  const completed = await db.selectFrom('mints').select((eb) => eb.fn.coalesce(eb.fn.sum<string>('amount'), eb.val('0')).as('total')).where('status', '=', 'completed').executeTakeFirstOrThrow()
  const mints = await db.selectFrom('mints').select(['id', 'status', 'amount']).where('status', 'in', open).execute()
  const redeems = await db.selectFrom('redeems').select(['id', 'status', 'amount']).where('status', 'in', open).execute()
  return {
    settled: -BigInt(completed.total),
    low: -mints.reduce((s, m) => s + BigInt(m.amount), 0n),
    high: redeems.reduce((s, r) => s + BigInt(r.amount), 0n),
    inFlight: [
      ...mints.map((m) => ({ operation: 'mint' as const, id: m.id, status: m.status, amount: formatAmount(BigInt(m.amount)) })),
      ...redeems.map((r) => ({ operation: 'redeem' as const, id: r.id, status: r.status, amount: formatAmount(BigInt(r.amount)) })),
    ],
  }
}

const same = (a: LedgerView, b: LedgerView) => a.settled === b.settled && a.low === b.low && a.high === b.high

const signed = (v: bigint) => (v < 0n ? `-${formatAmount(-v)}` : formatAmount(v))

/**
 * Circle's business balance against the ledger: the balance less our operations' effect (the
 * base) may move only by money we did not move — a wire top-up, a payout or transfer nobody asked
 * for, a correction by Circle. A base that moved since the previous run is a finding, reported once:
 * this run's base is what the next run compares with. The first run only takes note.
 */
export async function checkTreasury(deps: { db: Db; circle: CirclePort }, previous: TreasurySnapshot | undefined): Promise<{ snapshot: TreasurySnapshot; findings: Finding[] }> {
  // The ledger is read on both sides of Circle's answer: an operation settling in between would
  // look like money moving, so the reading is taken again until the ledger held still.
  let ledger = await ledgerView(deps.db)
  let circle = await deps.circle.treasuryBalance()
  for (let attempt = 0; attempt < 3; attempt++) {
    const after = await ledgerView(deps.db)
    if (same(ledger, after)) break
    ledger = after
    circle = await deps.circle.treasuryBalance()
  }
  let baseLow = circle - ledger.settled - ledger.high
  let baseHigh = circle - ledger.settled - ledger.low
  const findings: Finding[] = []
  if (previous) {
    const pLow = BigInt(previous.baseLow)
    const pHigh = BigInt(previous.baseHigh)
    if (baseHigh < pLow || baseLow > pHigh) {
      const expectedLow = pLow + ledger.settled + ledger.low
      const expectedHigh = pHigh + ledger.settled + ledger.high
      const difference = circle < expectedLow ? circle - expectedLow : circle - expectedHigh
      findings.push({
        kind: 'treasury_mismatch',
        subject: 'treasury',
        details: {
          circleBalance: formatAmount(circle),
          ledgerExpected: expectedLow === expectedHigh ? formatAmount(expectedLow) : { low: formatAmount(expectedLow), high: formatAmount(expectedHigh) },
          difference: signed(difference),
          inFlight: ledger.inFlight,
        },
      })
    } else {
      // Both runs' ranges hold the base: it lies where they overlap.
      baseLow = baseLow > pLow ? baseLow : pLow
      baseHigh = baseHigh < pHigh ? baseHigh : pHigh
    }
  }
  return {
    snapshot: { circleBalance: circle.toString(), settledEffect: ledger.settled.toString(), baseLow: baseLow.toString(), baseHigh: baseHigh.toString() },
    findings,
  }
}
