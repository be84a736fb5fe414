import { setTimeout as sleep } from 'node:timers/promises'
import { sql, type Kysely } from 'kysely'
import type { Database } from '../database.ts'
import { wallets } from '../projections/wallets.ts'
import { readCheckpoint } from '../subscriptions/checkpoints.ts'
import { checkpointName } from '../subscriptions/projection.ts'
import { formatAmount } from '../events/money.ts'
import { journal } from './journal.ts'
import { positionKey } from './position-key.ts'

export interface CheckFailure {
  /** The first account that does not hold (`*` for the trial balance as a whole). */
  account: string
  rule: 'entry_unbalanced' | 'running_balance' | 'trial_balance' | 'wallet_available' | 'wallet_held' | 'journal_behind'
  message: string
}

/** A journal check: `ok`, or the first failure. */
export type CheckResult = {
  entries: number
  accounts: number
  wallets: number
  /** Position the wallets were compared at (the wallet read model's checkpoint). */
  position: string | null
} & ({ ok: true; failure?: never } | { ok: false; failure: CheckFailure })

/**
 * The journal holds when every entry sums to zero, every account's kept balance equals the sum of
 * its postings and its last running balance, the trial balance is zero, and every wallet's
 * available and held balances equal the wallet read model's available and reserved, compared at the
 * read model's checkpoint so that neither projection's lag is mistaken for a difference.
 */
export async function checkJournal(db: Kysely<Database>, options: { waitMs?: number } = {}): Promise<CheckResult> {
  const counts = async () => {
    const [e, a] = await Promise.all([
      db.selectFrom('journal_entries').select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow(),
      db.selectFrom('journal_accounts').select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow(),
    ])
    return { entries: Number(e.n), accounts: Number(a.n) }
  }
  // Amounts in messages as the API shows them ("57.50"), never as the micro-units the tables hold.
  const usd = (micro: string) => formatAmount(BigInt(micro))
  const result = (position: string | null, walletCount: number, failure?: CheckFailure): Promise<CheckResult> =>
    counts().then((c) => (failure === undefined ? { ok: true, ...c, wallets: walletCount, position } : { ok: false, ...c, wallets: walletCount, position, failure }))

  const unbalanced = await sql<{ account: string; position: string; total: string }>`
    SELECT min(account) AS account, min(position) AS position, sum(amount)::text AS total
    FROM journal_postings GROUP BY position_key HAVING sum(amount) <> 0 ORDER BY position_key LIMIT 1`.execute(db)
  const entry = unbalanced.rows[0]
  if (entry) return result(null, 0, { account: entry.account, rule: 'entry_unbalanced', message: `the entry at position ${entry.position} sums to ${usd(entry.total)}, not 0.00` })

  const drifted = await sql<{ account: string; balance: string; summed: string; last: string | null }>`
    SELECT a.account, a.balance::text AS balance, coalesce(s.summed, 0)::text AS summed, l.balance_after::text AS last
    FROM journal_accounts a
    LEFT JOIN LATERAL (SELECT sum(amount) AS summed FROM journal_postings p WHERE p.account = a.account) s ON true
    LEFT JOIN LATERAL (SELECT balance_after FROM journal_postings p WHERE p.account = a.account ORDER BY position_key DESC, seq DESC LIMIT 1) l ON true
    WHERE a.balance <> coalesce(s.summed, 0) OR l.balance_after IS DISTINCT FROM a.balance
    ORDER BY a.account LIMIT 1`.execute(db)
  const drift = drifted.rows[0]
  if (drift) {
    return result(null, 0, {
      account: drift.account,
      rule: 'running_balance',
      message: `account ${drift.account} keeps balance ${usd(drift.balance)} but its postings sum to ${usd(drift.summed)} (last running balance ${drift.last === null ? 'none' : usd(drift.last)})`,
    })
  }

  const trial = await db.selectFrom('journal_accounts').select(sql<string>`coalesce(sum(balance), 0)::text`.as('total')).executeTakeFirstOrThrow()
  if (trial.total !== '0') return result(null, 0, { account: '*', rule: 'trial_balance', message: `the trial balance sums to ${usd(trial.total)}, not 0.00` })

  // The read models and the journal run on their own; give a journal that is behind a moment to catch up.
  const deadline = Date.now() + (options.waitMs ?? 10_000)
  for (;;) {
    const outcome = await db
      .transaction()
      .setIsolationLevel('repeatable read')
      .execute(async (trx) => {
        // Locked before the snapshot is taken (by the first query): a rebuild's swap, which replaces
        // these tables, waits for this check instead of giving it tables whose rows its snapshot cannot see.
        await sql`LOCK TABLE wallets, journal_postings IN ACCESS SHARE MODE`.execute(trx)
        const at = (await readCheckpoint(trx as unknown as Kysely<Database>, checkpointName(wallets.projection))) ?? null
        const journalAt = (await readCheckpoint(trx as unknown as Kysely<Database>, checkpointName(journal))) ?? null
        if (at !== null && (journalAt === null || positionKey(journalAt) < positionKey(at))) return { kind: 'behind' as const, at, journalAt }
        const key = at === null ? '' : positionKey(at)
        const rows = await sql<{ id: string; available: string; reserved: string; journal_available: string; journal_held: string }>`
          SELECT w.id, w.available::text AS available, w.reserved::text AS reserved,
            coalesce((SELECT balance_after FROM journal_postings p WHERE p.account = 'wallet:' || w.id || ':available' AND p.position_key <= ${key}
                      ORDER BY position_key DESC, seq DESC LIMIT 1), 0)::text AS journal_available,
            coalesce((SELECT balance_after FROM journal_postings p WHERE p.account = 'wallet:' || w.id || ':held' AND p.position_key <= ${key}
                      ORDER BY position_key DESC, seq DESC LIMIT 1), 0)::text AS journal_held
          FROM wallets w ORDER BY w.id`.execute(trx)
        return { kind: 'ready' as const, at, rows: rows.rows }
      })
    if (outcome.kind === 'behind') {
      if (Date.now() < deadline) {
        await sleep(200)
        continue
      }
      const { at, journalAt } = outcome
      return result(at, 0, { account: '*', rule: 'journal_behind', message: `the journal is at position ${journalAt ?? 'none'}, behind the wallet read model at ${at}` })
    }
    for (const w of outcome.rows) {
      if (w.available !== w.journal_available) {
        return result(outcome.at, outcome.rows.length, {
          account: `wallet:${w.id}:available`,
          rule: 'wallet_available',
          message: `wallet ${w.id}: journal available ${usd(w.journal_available)}, read model available ${usd(w.available)}`,
        })
      }
      if (w.reserved !== w.journal_held) {
        return result(outcome.at, outcome.rows.length, {
          account: `wallet:${w.id}:held`,
          rule: 'wallet_held',
          message: `wallet ${w.id}: journal held ${usd(w.journal_held)}, read model reserved ${usd(w.reserved)}`,
        })
      }
    }
    return result(outcome.at, outcome.rows.length)
  }
}
