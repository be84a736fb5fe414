import { sql } from 'kysely'
import type { CirclePort } from '../adapters/circle/port.ts'
import type { Db } from '../adapters/postgres/database.ts'
import type { EventStore } from '../events/event-store.ts'
import { bankAccount } from '../events/bank-account.ts'
import { card } from '../events/card.ts'
import { fold } from '../events/fold.ts'
import { mint } from '../events/mint.ts'
import { redeem } from '../events/redeem.ts'
import { transfer } from '../events/transfer.ts'
import { wallet } from '../events/wallet.ts'
import type { StepContext } from '../process-manager/context.ts'
import { settleWire } from '../process-manager/steps/bank-account.ts'
import { settleMint } from '../process-manager/steps/mint.ts'
import { compensation, settleRedeemPayout, settleRedeemTransfer } from '../process-manager/steps/redeem.ts'
import { settleTransfer } from '../process-manager/steps/transfer.ts'
import type { Logger } from 'pino'
import type { Finding } from './runs.ts'

export interface StaleDeps {
  db: Db
  store: EventStore
  circle: CirclePort
  logger: Logger
  signal?: AbortSignal | undefined
}

/** An operation the read models show not terminal for longer than the threshold. */
interface Candidate {
  kind: 'mint' | 'redeem' | 'transfer' | 'bank_account' | 'card' | 'wallet' | 'address'
  id: string
  stream: string
  status: string
  createdAt: Date
  /** For addresses: the wallet they belong to. */
  walletId?: string
}

/** Every operation not terminal and older than `staleAfterMs`, oldest first. */
export async function staleCandidates(db: Db, staleAfterMs: number): Promise<Candidate[]> {
  const before = new Date(Date.now() - staleAfterMs)
  const open = ['pending', 'processing']
  const out: Candidate[] = []
  const add = (kind: Candidate['kind'], stream: (id: string) => string, rows: { id: string; status: string; created_at: Date }[]) => {
    for (const r of rows) out.push({ kind, id: r.id, stream: stream(r.id), status: r.status, createdAt: r.created_at })
  }
  const columns = ['id', 'status', 'created_at'] as const
  add('mint', mint.streamName, await db.selectFrom('mints').select(columns).where('status', 'in', open).where('created_at', '<', before).execute())
  add('redeem', redeem.streamName, await db.selectFrom('redeems').select(columns).where('status', 'in', open).where('created_at', '<', before).execute())
  add('transfer', transfer.streamName, await db.selectFrom('transfers').select(columns).where('status', 'in', open).where('created_at', '<', before).execute())
  add('bank_account', bankAccount.streamName, await db.selectFrom('bank_accounts').select(columns).where('status', '=', 'pending').where('created_at', '<', before).execute())
  add('card', card.streamName, await db.selectFrom('cards').select(columns).where('status', '=', 'pending').where('created_at', '<', before).execute())
  add('wallet', wallet.streamName, await db.selectFrom('wallets').select(columns).where('status', '=', 'pending').where('created_at', '<', before).execute())
  // Deposit addresses live inside the wallet document; the wallet's last change bounds their age.
  const addresses = await sql<{ wallet_id: string; address_id: string; updated_at: Date }>`
    SELECT w.id AS wallet_id, a.key AS address_id, w.updated_at
    FROM wallets w, jsonb_each(w.state -> 'addresses') a
    WHERE a.value ->> 'status' = 'pending' AND w.updated_at < ${before}`.execute(db)
  for (const a of addresses.rows) out.push({ kind: 'address', id: a.address_id, walletId: a.wallet_id, stream: wallet.streamName(a.wallet_id), status: 'pending', createdAt: a.updated_at })
  return out.sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime())
}

/**
 * Asks Circle for an operation waiting on it and records a settled answer through the process
 * manager's own settle functions (same commands, same outcome ids, actor reconciliation). Never
 * submits anything: an operation not yet at Circle stays with the process manager.
 * Returns whether an outcome was recorded.
 */
async function resolve(ctx: StepContext, c: Candidate): Promise<boolean> {
  switch (c.kind) {
    case 'mint': {
      const { state } = await fold(ctx.store, mint, c.id)
      if (state.status !== 'processing') return false
      return (await settleMint(ctx, c.id, await ctx.circle.getTransfer(state.circleTransferId))).next === 'done'
    }
    case 'transfer': {
      const { state } = await fold(ctx.store, transfer, c.id)
      if (state.status !== 'processing') return false
      return (await settleTransfer(ctx, c.id, await ctx.circle.getTransfer(state.circleTransferId))).next === 'done'
    }
    case 'redeem': {
      const { state } = await fold(ctx.store, redeem, c.id)
      if (state.phase === 'transferring') return settleRedeemTransfer(ctx, c.id, await ctx.circle.getTransfer(state.circleTransferId))
      if (state.phase === 'paying_out') return settleRedeemPayout(ctx, c.id, await ctx.circle.getPayout(state.circlePayoutId))
      if (state.phase === 'compensating') {
        const t = await ctx.circle.getTransfer(state.compensationTransferId)
        return t.status === 'complete' && (await compensation(ctx, state, t.id, t.status)).next === 'done'
      }
      return false
    }
    case 'bank_account': {
      const { state } = await fold(ctx.store, bankAccount, c.id)
      if (state.status !== 'pending' || state.circleWireId === undefined) return false
      return (await settleWire(ctx, c.id, await ctx.circle.getWireAccount(state.circleWireId))).next === 'done'
    }
    // A card, a wallet or an address not yet created has no id at the issuer or Circle to read:
    // only a creation (the process manager's job, idempotent) could learn it.
    case 'card':
    case 'wallet':
    case 'address':
      return false
  }
}

/** Where an operation stands now, for the finding. */
async function phaseOf(store: EventStore, c: Candidate): Promise<string> {
  if (c.kind === 'redeem') return (await fold(store, redeem, c.id)).state.phase
  return c.status
}

export async function checkStale(deps: StaleDeps, staleAfterMs: number, onProgress: (done: number, total: number) => void): Promise<{ findings: Finding[]; checked: number }> {
  const candidates = await staleCandidates(deps.db, staleAfterMs)
  // No issuer: a run resolves nothing at the card issuer (see resolve), and never creates anything.
  const ctx: StepContext = { store: deps.store, circle: deps.circle, issuer: undefined as never, pollMs: 0, submissionAbandonMs: Number.MAX_SAFE_INTEGER, logger: deps.logger, actor: 'reconciliation' }
  const findings: Finding[] = []
  let done = 0
  for (const c of candidates) {
    // Stopped: what was resolved so far is already in the log, so it is returned to be stored
    // (the caller then fails the run) rather than thrown away.
    if (deps.signal?.aborted) break
    const subject = c.kind === 'address' ? `${c.stream}/address/${c.id}` : c.stream
    try {
      const before = await phaseOf(deps.store, c)
      if (await resolve(ctx, c)) {
        findings.push({ kind: 'operation_resolved', subject, details: { operation: c.kind, id: c.id, was: before, now: await phaseOf(deps.store, c), ageSeconds: ageOf(c) } })
      } else {
        findings.push({ kind: 'stale_operation', subject, details: { operation: c.kind, id: c.id, status: before, ...(c.walletId ? { walletId: c.walletId } : {}), since: c.createdAt.toISOString(), ageSeconds: ageOf(c) } })
      }
    } catch (err) {
      findings.push({ kind: 'check_failed', subject, details: { check: 'stale', operation: c.kind, id: c.id, error: err instanceof Error ? err.message : String(err) } })
    }
    onProgress(++done, candidates.length)
  }
  return { findings, checked: done }
}

const ageOf = (c: Candidate) => Math.round((Date.now() - c.createdAt.getTime()) / 1000)
