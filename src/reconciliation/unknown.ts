import type { CircleMoney, CirclePort, CircleTransfer } from '../adapters/circle/port.ts'
import type { Db } from '../adapters/postgres/database.ts'
import { formatAmount } from '../events/money.ts'
import { alreadyReported, type Finding } from './runs.ts'

/** Circle ids our operations know, in one query per batch. */
async function known(db: Db, ids: string[]): Promise<Set<string>> {
  const out = new Set<string>()
  for (let i = 0; i < ids.length; i += 500) {
    const rows = await db.selectFrom('circle_ids').select('circle_id').where('circle_id', 'in', ids.slice(i, i + 500)).execute()
    for (const r of rows) out.add(r.circle_id)
  }
  return out
}

/** Circle's amount: formatted like ours when in USDC, as Circle wrote it in another currency. */
const shown = (m: CircleMoney) => (m.amount === undefined ? m.amountText : formatAmount(m.amount))

const describe = (t: CircleTransfer) => ({
  circleTransferId: t.id,
  status: t.status,
  amount: shown(t),
  currency: t.currency,
  source: t.sourceWalletId !== undefined ? { type: 'wallet', id: t.sourceWalletId } : { type: 'blockchain', chain: t.sourceChain ?? null },
  destination: t.destination,
  ...(t.txHash === undefined ? {} : { txHash: t.txHash }),
  ...(t.createDate === undefined ? {} : { createDate: t.createDate }),
})

/**
 * Circle's transfers in and out of our wallets (and the master wallet) and its business payouts,
 * created in [from, to], that no operation of ours knows. An inbound on-chain transfer is a
 * deposit we missed; any other is a transfer we never requested. Each is reported by the first run
 * that sees it.
 *
 * The transfers come from one listing of the whole account, kept where a wallet of ours is the
 * source or the destination: each transfer is read once, in full pages, where a listing per wallet
 * read a transfer between two of our wallets twice and cost a call per wallet even with nothing to
 * list. Progress counts pages read.
 */
export async function checkUnknown(
  deps: { db: Db; circle: CirclePort; signal?: AbortSignal | undefined },
  runId: string,
  range: { from?: Date; to: Date },
  circleWalletIds: string[],
  onProgress: (done: number, total: number) => void,
): Promise<{ findings: Finding[]; transfersListed: number; payoutsListed: number }> {
  const query = { ...(range.from ? { from: range.from.toISOString() } : {}), to: range.to.toISOString() }
  deps.signal?.throwIfAborted()
  const wallets = new Set([await deps.circle.masterWalletId(), ...circleWalletIds])
  // Pages read; a page may follow until a listing ends, so the total is one more until then.
  let pages = 0
  const onPage = () => {
    deps.signal?.throwIfAborted()
    onProgress(++pages, pages + 1)
  }
  const ourWallet = (id: string | undefined) => id !== undefined && wallets.has(id)
  const listed = await deps.circle.listAllTransfers(query, { keep: (t) => ourWallet(t.sourceWalletId) || (t.destination.type === 'wallet' && ourWallet(t.destination.id)), onPage })
  // By id: a transfer a listing repeats (across a page boundary) is one transfer.
  const transfers = new Map(listed.map((t) => [t.id, t]))
  const payouts = [...new Map((await deps.circle.listPayouts(query, { onPage })).map((p) => [p.id, p])).values()]
  onProgress(pages, pages)

  const ids = [...transfers.keys(), ...payouts.map((p) => p.id)]
  const ours = await known(deps.db, ids)
  const reported = await alreadyReported(deps.db, runId, ids.filter((id) => !ours.has(id)))
  const findings: Finding[] = []
  for (const t of transfers.values()) {
    if (ours.has(t.id) || reported.has(t.id)) continue
    const deposit = t.sourceChain !== undefined && t.sourceWalletId === undefined
    const subject = deposit && t.destination.type === 'wallet' ? `circle-wallet-${t.destination.id}` : `circle-wallet-${t.sourceWalletId ?? 'unknown'}`
    findings.push({ kind: deposit ? 'unknown_deposit' : 'unknown_transfer', subject, circleId: t.id, details: describe(t) })
  }
  for (const p of payouts) {
    if (ours.has(p.id) || reported.has(p.id)) continue
    findings.push({
      kind: 'unknown_payout',
      subject: `circle-payout-${p.id}`,
      circleId: p.id,
      details: { circlePayoutId: p.id, status: p.status, amount: shown(p), currency: p.currency, ...(p.createDate === undefined ? {} : { createDate: p.createDate }) },
    })
  }
  return { findings, transfersListed: transfers.size, payoutsListed: payouts.length }
}
