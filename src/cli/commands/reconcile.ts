import pino from 'pino'
import { CircleSdkAdapter } from '../../adapters/circle/sdk.ts'
import { reconcile, reconcileOptionsOf, type Phase } from '../../reconciliation/reconciler.ts'
import { listFindings, type StoredFinding } from '../../reconciliation/runs.ts'
import { UsageError, type CliCommand } from '../context.ts'
import { progressBar, type Progress } from '../progress.ts'

const SIGNAL_EXIT: Record<string, number> = { SIGINT: 130, SIGTERM: 143 }

/** Each phase's bar: its label and what it counts (the listing's total is one more page until the last). */
const PHASES: Record<Phase, { label: string; unit: string }> = {
  stale: { label: 'stale operations', unit: 'operations' },
  balances: { label: 'wallet balances', unit: 'wallets' },
  unknown: { label: 'Circle listings', unit: 'pages' },
}

/** One line per finding for the table: what, about what, and the figures that matter. */
function summary(f: StoredFinding): string {
  const d = f.details as Record<string, unknown>
  switch (f.kind) {
    case 'balance_mismatch':
      return `ledger ${String(d.ledgerBalance)} circle ${String(d.circleBalance)} (${String(d.difference)}), ${(d.inFlight as unknown[]).length} in flight`
    case 'treasury_mismatch':
      return `circle ${String(d.circleBalance)}, ledger expects ${typeof d.ledgerExpected === 'string' ? d.ledgerExpected : JSON.stringify(d.ledgerExpected)} (${String(d.difference)})`
    case 'stale_operation':
      return `${String(d.status)} for ${String(d.ageSeconds)} s`
    case 'operation_resolved':
      return `${String(d.was)} -> ${String(d.now)}`
    case 'check_failed':
      return String(d.error)
    default:
      return `${String(d.amount)} ${String(d.status)}`
  }
}

export const reconcileCommand: CliCommand = {
  summary: 'compare the ledger with Circle now: resolve stale operations, check balances, find unknown resources',
  usage: 'reconcile [--json]',
  async run(args, ctx) {
    if (args.some((a) => a !== '--json')) throw new UsageError(`unexpected ${args.filter((a) => a !== '--json').join(' ')}`)
    const { config } = ctx
    if (!config.CIRCLE_API_KEY || !config.CIRCLE_BASE_URL) throw new UsageError('CIRCLE_API_KEY and CIRCLE_BASE_URL must name the Circle to reconcile with')
    const conn = await ctx.connect()
    const bars = new Map<Phase, Progress>()
    // Ctrl-C (or TERM) ends the run as failed, "interrupted by SIGINT", recorded as such, instead of
    // leaving it `running` for good. A terminal's Ctrl-C reaches npm too, which passes it on a few
    // ms later: repeats within a second are that same Ctrl-C; a later one kills the process at once.
    const interrupted = new AbortController()
    let firstSignalAt = 0
    let stoppedBy: NodeJS.Signals | undefined
    const onSignal = (signal: NodeJS.Signals) => {
      if (stoppedBy === undefined) {
        stoppedBy = signal
        firstSignalAt = Date.now()
        ctx.stderr.write(`\n${signal}: stopping the run (again to kill)\n`)
        interrupted.abort(new Error(`interrupted by ${signal}`))
      } else if (Date.now() - firstSignalAt > 1000) process.exit(SIGNAL_EXIT[signal] ?? 1)
    }
    process.on('SIGINT', onSignal).on('SIGTERM', onSignal)
    try {
      const circle = new CircleSdkAdapter({ apiKey: config.CIRCLE_API_KEY, baseUrl: config.CIRCLE_BASE_URL, timeoutMs: config.CIRCLE_TIMEOUT_MS, ratePerSecond: config.CIRCLE_RATE_PER_SECOND })
      const run = await reconcile(
        { db: conn.db, pool: conn.pool, store: conn.store, circle, logger: pino({ level: 'silent' }) },
        { ...reconcileOptionsOf(config), signal: interrupted.signal },
        'cli',
        (phase, done, total) => {
          if (ctx.json) return
          let bar = bars.get(phase)
          if (!bar) {
            for (const b of bars.values()) b.stop()
            bars.set(phase, (bar = progressBar(PHASES[phase].label, ctx.stderr, PHASES[phase].unit)))
          }
          bar.update(done, total)
        },
      )
      for (const b of bars.values()) b.stop()
      const findings: StoredFinding[] = []
      let cursor: string | undefined
      do {
        const page = await listFindings(conn.db, run.id, { limit: 200, ...(cursor ? { cursor } : {}) })
        findings.push(...page.items)
        cursor = page.nextCursor ?? undefined
      } while (cursor)
      if (ctx.json) {
        ctx.stdout.write(JSON.stringify({ run, findings }) + '\n')
      } else {
        ctx.stdout.write(`run ${run.id}: ${run.outcome}${run.error ? ` (${run.error})` : ''}\n`)
        ctx.stdout.write(`checked: ${Object.entries(run.checked).map(([k, v]) => `${k} ${v}`).join(', ')}\n`)
        const rows = findings.map((f) => [f.kind, f.subject, summary(f)] as const)
        const width = [Math.max(4, ...rows.map((r) => r[0].length)), Math.max(7, ...rows.map((r) => r[1].length))] as const
        ctx.stdout.write(`${'KIND'.padEnd(width[0])}  ${'SUBJECT'.padEnd(width[1])}  DETAIL\n`)
        for (const [kind, subject, detail] of rows) ctx.stdout.write(`${kind.padEnd(width[0])}  ${subject.padEnd(width[1])}  ${detail}\n`)
        ctx.stdout.write(`${findings.length} finding(s)\n`)
      }
      // Stopped by a signal: 128 + its number, as shells report it (130 for SIGINT, 143 for SIGTERM).
      // A signal that came once the run had finished leaves the run's own answer.
      if (stoppedBy !== undefined && run.outcome === 'failed') return SIGNAL_EXIT[stoppedBy] ?? 1
      return run.outcome === 'clean' ? 0 : 1
    } finally {
      process.off('SIGINT', onSignal).off('SIGTERM', onSignal)
      for (const b of bars.values()) b.stop()
      await conn.close()
    }
  },
}
