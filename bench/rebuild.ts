import { Writable } from 'node:stream'
import { sql } from 'kysely'
import { PostgresEventStore } from '../src/adapters/event-store/postgres.ts'
import { createDb, createPool, migrate } from '../src/adapters/postgres/database.ts'
import { progressBar } from '../src/cli/progress.ts'
import { checkJournal } from '../src/ledger/check.ts'
import { ledgerProjections } from '../src/ledger/index.ts'
import { readModels } from '../src/projections/index.ts'
import { DEFAULT_REBUILD_BATCH, rebuildProjection } from '../src/subscriptions/rebuild.ts'
import { createBenchDatabase } from './lib/database.ts'
import { generateEvents, sqlWriter, storeWriter } from './lib/generate-events.ts'
import { ratios, round, type BenchOptions, type Check, type Measurement, type Scenario, type Target } from './lib/report.ts'

export const title = 'every projection rebuilt from position 0 (as `projections rebuild` does, swap included) against a raw sequential read of the events table'

/** Events in the generated log (`BENCH_REBUILD_EVENTS`, default 1,000,000). */
const EVENTS = Number(process.env.BENCH_REBUILD_EVENTS ?? 1_000_000)
/** `store`: generate through the store's batch append instead of the direct insert (slower; see bench/lib/generate-events.ts). */
const WRITER = process.env.BENCH_REBUILD_WRITER === 'store' ? 'store' : 'sql'
/** Events per page of the rebuild (its default). */
const BATCH = DEFAULT_REBUILD_BATCH
/**
 * Rows per query of the raw read: the rebuild's page, and 5,000 (this benchmark's page before the
 * rebuild's grew to 20,000). The baseline is whichever read the log faster in this run, so a page
 * size that suits the rebuild cannot make the baseline look slow.
 */
const RAW_PAGES = [...new Set([5000, BATCH])]

export async function run(options: BenchOptions) {
  const total = options.tiny ? 3000 : EVENTS
  const stderr = options.tiny ? new Writable({ write: (_chunk, _encoding, done) => done() }) : process.stderr
  const database = await createBenchDatabase(options.databaseUrl, 'rebuild')
  const pool = createPool(database.url, 8)
  const db = createDb(pool)
  const store = new PostgresEventStore(pool)
  try {
    await migrate(db)
    options.log(`rebuild: generating ${total} events (${WRITER === 'sql' ? "inserted in the store's format" : "through the store's batch append"})`)
    const genBar = progressBar('generate', stderr)
    const genStarted = performance.now()
    const generated = await generateEvents(WRITER === 'sql' ? sqlWriter(pool) : storeWriter(store), total, { onProgress: (done, all) => genBar.update(done, all) })
    genBar.stop()
    const genSeconds = (performance.now() - genStarted) / 1000
    options.log(`rebuild: ${generated.events} events (${generated.wallets} wallets, ${JSON.stringify(generated.operations)}) in ${round(genSeconds, 1)} s`)
    const head = (await store.head())!
    // Fresh statistics, as on a database that has been running: the planner sees 1M events, not 0.
    await sql`VACUUM ANALYZE events`.execute(db)

    const rawReads = async (when: string) => {
      const reads = []
      for (const page of RAW_PAGES) {
        const read = await rawRead(pool, generated.events, page, stderr)
        options.log(`rebuild: raw sequential read${when}, pages of ${page}: ${Math.round(read.rate)} events/s`)
        reads.push(read)
      }
      return reads
    }
    const rawBefore = await rawReads('')
    const projections = [...readModels, ...ledgerProjections]
    const runs: { name: string; seconds: number; applied: number; expected: number }[] = []
    for (const projection of projections) {
      const expected = projection.handles.reduce((n, t) => n + (generated.byType.get(t) ?? 0), 0)
      const bar = progressBar(`rebuild ${projection.name}`, stderr)
      const started = performance.now()
      const result = await rebuildProjection({ db, store, projection, target: head, batchSize: BATCH, onProgress: (p) => bar.update(p.scanned ?? p.applied, p.total) })
      const seconds = (performance.now() - started) / 1000
      bar.stop()
      options.log(`rebuild: ${projection.name}: ${result.applied} events applied, ${generated.events} scanned in ${round(seconds, 1)} s`)
      runs.push({ name: projection.name, seconds, applied: result.applied, expected })
    }
    const rawAfter = await rawReads(' again')
    // The baseline is the mean of the reads before and after the rebuilds, so a change of load during
    // the run weighs on both sides, at the page size that read faster.
    const means = RAW_PAGES.map((page, i) => ({ page, first: rawBefore[i]!, last: rawAfter[i]!, rate: (rawBefore[i]!.rate + rawAfter[i]!.rate) / 2 }))
    const { page: rawPage, first: rawFirst, last: rawLast } = means.reduce((a, b) => (b.rate > a.rate ? b : a))
    options.log(`rebuild: the baseline is the raw read in pages of ${rawPage}`)
    const raw: Measurement = {
      subject: 'raw-read',
      rate: round((rawFirst.rate + rawLast.rate) / 2, 0),
      operations: generated.events,
      seconds: round((rawFirst.seconds + rawLast.seconds) / 2, 2),
      p50Ms: round((rawFirst.p50Ms + rawLast.p50Ms) / 2, 2),
      p99Ms: round(Math.max(rawFirst.p99Ms, rawLast.p99Ms), 2),
      // Every page size's reads, the one counted named by `page`.
      extra: { page: rawPage, byPage: means.map((m) => ({ page: m.page, rate: round(m.rate, 0), before: m.first, after: m.last })) },
    }

    const scenarios: Scenario[] = runs.map((r) => {
      const measurements: Measurement[] = [
        {
          subject: 'rebuild',
          rate: round(generated.events / r.seconds, 0),
          operations: generated.events,
          seconds: round(r.seconds, 2),
          // One batch's latency is not measured separately: the whole rebuild's mean per batch.
          p50Ms: round((r.seconds * 1000 * BATCH) / generated.events, 2),
          p99Ms: round((r.seconds * 1000 * BATCH) / generated.events, 2),
          extra: { applied: r.applied },
        },
        raw,
      ]
      return { name: r.name, parameters: { events: generated.events, applied: r.applied, batch: BATCH }, measurements, ratios: ratios(measurements, [['rebuild', 'raw-read']]) }
    })

    const checks: Check[] = runs.map((r) => ({ description: `${r.name}: applied every event it handles`, ok: r.applied === r.expected, detail: `${r.applied} of ${r.expected}` }))
    const journal = await checkJournal(db)
    checks.push({ description: 'the rebuilt journal holds and agrees with the rebuilt wallets', ok: journal.ok, detail: journal.failure?.message ?? `${journal.entries} entries, ${journal.wallets} wallets` })
    const count = async (table: 'wallets' | 'mints' | 'transfers' | 'redeems' | 'deposits' | 'audit_log') =>
      Number((await db.selectFrom(table).select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow()).n)
    const ops = generated.operations
    for (const [table, want] of [
      ['wallets', generated.wallets],
      ['mints', ops.mint],
      ['transfers', ops.transfer + ops.transferFailed],
      ['redeems', ops.redeem],
      ['deposits', ops.deposit],
      ['audit_log', generated.events],
    ] as const) {
      const got = await count(table)
      checks.push({ description: `${table}: one row per generated stream (or event, for the audit log)`, ok: got === want, detail: `${got} of ${want}` })
    }

    // The generated log is one the store itself goes on from: an append at a stream's revision lands right after the head.
    const last = (await sql<{ stream: string; revision: number }>`SELECT stream, revision FROM streams WHERE stream LIKE 'wallet-%' LIMIT 1`.execute(db)).rows[0]!
    const walletId = last.stream.slice('wallet-'.length)
    const appended = await store.append(last.stream, [{ id: crypto.randomUUID(), type: 'DepositAddressRequested', data: { walletId, addressId: crypto.randomUUID(), chain: 'ETH' }, metadata: { correlationId: walletId, causationId: walletId, actor: 'bench', occurredAt: new Date().toISOString() } }], { expected: last.revision })
    checks.push({
      description: "the store appends after the generated log (streams' revisions and the head are consistent)",
      ok: appended.revision === last.revision + 1 && appended.position === String(BigInt(head) + 1n),
      detail: `${last.stream} revision ${appended.revision}, position ${appended.position} after head ${head}`,
    })

    const targets: Target[] = []
    const slowest = runs.reduce((a, b) => (b.seconds > a.seconds ? b : a))
    const worst = scenarios.reduce((a, b) => (b.ratios[0]!.ratio < a.ratios[0]!.ratio ? b : a))
    targets.push({ description: `every projection's rebuild ≥ 0.25 × the raw sequential read (lowest: ${worst.name}, ${worst.ratios[0]!.ratio})`, met: worst.ratios[0]!.ratio >= 0.25 })
    const at1M = (slowest.seconds * 1_000_000) / generated.events
    targets.push({
      description: `1M events rebuilt in under 60 s by every projection (slowest: ${slowest.name}, ${round(slowest.seconds, 1)} s for ${generated.events} events${generated.events === 1_000_000 ? '' : `, ${round(at1M, 1)} s at 1M at this rate`})`,
      met: at1M < 60,
    })
    const totalSeconds = runs.reduce((n, r) => n + r.seconds, 0)
    options.log(`rebuild: all ${runs.length} projections in ${round(totalSeconds, 1)} s; generation (${WRITER}) ${round(genSeconds, 1)} s (${Math.round(generated.events / genSeconds)} events/s)`)
    return { title, unit: 'events/s', scenarios, targets, checks }
  } finally {
    await store.close()
    await db.destroy()
    await database.drop()
  }
}

/** Pages through the whole events table in position order, `page` rows a query, with the store's own columns and driver. */
async function rawRead(pool: ReturnType<typeof createPool>, total: number, page: number, stderr: NodeJS.WritableStream) {
  const bar = progressBar('raw sequential read', stderr)
  const latencies: number[] = []
  let after = '0'
  let rows = 0
  const started = performance.now()
  for (;;) {
    const t0 = performance.now()
    const res = await pool.query<{ position: string }>(
      `SELECT position, stream, revision, event_id, type, data, metadata, recorded_at FROM events
       WHERE position > $1 ORDER BY position LIMIT $2`,
      [after, page],
    )
    latencies.push(performance.now() - t0)
    if (res.rows.length === 0) break
    rows += res.rows.length
    after = res.rows.at(-1)!.position
    bar.update(rows, total)
  }
  const seconds = (performance.now() - started) / 1000
  bar.stop()
  latencies.sort((a, b) => a - b)
  const at = (p: number) => round(latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))]!, 2)
  return { rate: rows / seconds, rows, seconds: round(seconds, 2), p50Ms: at(0.5), p99Ms: at(0.99) }
}
