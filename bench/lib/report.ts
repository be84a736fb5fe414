import os from 'node:os'
import { mkdir, writeFile } from 'node:fs/promises'
import path from 'node:path'
import pg from 'pg'

/** One contender measured in one scenario. */
export interface Measurement {
  /** Who ran: `ours`, or a baseline such as `raw-insert`. */
  subject: string
  /** Operations completed per second (the unit is the report's `unit`). */
  rate: number
  operations: number
  seconds: number
  p50Ms: number
  p99Ms: number
  /** Anything else worth keeping: counts checked, mean batch size, sampled wait events. */
  extra?: Record<string, unknown>
}

/** A figure beside its baseline, both from the same run. */
export interface Ratio {
  subject: string
  baseline: string
  /** subject rate ÷ baseline rate. */
  ratio: number
}

/** A goal the figures are held against; reported, never asserted by the test suite. */
export interface Target {
  description: string
  met: boolean
}

/** A correctness check of the run itself (nothing lost, nothing duplicated): the tiny-mode test asserts each. */
export interface Check {
  description: string
  ok: boolean
  detail?: string
}

export interface Scenario {
  name: string
  parameters: Record<string, string | number>
  measurements: Measurement[]
  ratios: Ratio[]
}

export interface Machine {
  cpus: number
  cpuModel: string
  loadAverage: number[]
  node: string
  postgres: string
  fsync: string
  synchronousCommit: string
}

export interface Report {
  benchmark: string
  title: string
  /** What `rate` counts, e.g. `appends/s`. */
  unit: string
  tiny: boolean
  startedAt: string
  finishedAt: string
  machine: Machine
  scenarios: Scenario[]
  targets: Target[]
  checks: Check[]
}

export interface BenchOptions {
  /** A few hundred milliseconds per measurement: proves the benchmark still runs, measures nothing. */
  tiny: boolean
  /** The server to create throw-away databases on (any database name in it is replaced). */
  databaseUrl: string
  /** Where the runner writes the report; a benchmark may put files of its own beside it (a plot). */
  resultsDir: string
  log: (line: string) => void
}

/** What a file under bench/ exports to be found by the runner. */
export interface Benchmark {
  title: string
  run(options: BenchOptions): Promise<Omit<Report, 'benchmark' | 'tiny' | 'startedAt' | 'finishedAt' | 'machine'>>
}

/** Builds the ratios of every subject against every other subject of the scenario listed as a baseline. */
export function ratios(measurements: Measurement[], pairs: [subject: string, baseline: string][]): Ratio[] {
  const rate = new Map(measurements.map((m) => [m.subject, m.rate]))
  return pairs
    .filter(([s, b]) => rate.has(s) && rate.has(b))
    .map(([subject, baseline]) => ({ subject, baseline, ratio: round(rate.get(subject)! / rate.get(baseline)!, 2) }))
}

export async function describeMachine(databaseUrl: string): Promise<Machine> {
  const url = new URL(databaseUrl)
  url.pathname = '/postgres'
  const client = new pg.Client({ connectionString: url.toString() })
  await client.connect()
  try {
    const res = await client.query<{ version: string; fsync: string; sc: string }>(
      `SELECT current_setting('server_version') AS version, current_setting('fsync') AS fsync, current_setting('synchronous_commit') AS sc`,
    )
    const row = res.rows[0]!
    return {
      cpus: os.cpus().length,
      cpuModel: os.cpus()[0]?.model ?? 'unknown',
      loadAverage: os.loadavg().map((l) => round(l, 2)),
      node: process.version,
      postgres: row.version,
      fsync: row.fsync,
      synchronousCommit: row.sc,
    }
  } finally {
    await client.end()
  }
}

export async function writeReport(report: Report, resultsDir: string): Promise<string> {
  await mkdir(resultsDir, { recursive: true })
  const file = path.join(resultsDir, `${report.benchmark}.json`)
  await writeFile(file, JSON.stringify(report, null, 2) + '\n')
  return file
}

/** The report as text: one line per scenario and subject, each rate beside its baselines as ratios. */
export function formatReport(report: Report): string {
  const lines = [`${report.benchmark}: ${report.title}${report.tiny ? ' (tiny mode: not a measurement)' : ''}`]
  const m = report.machine
  lines.push(`machine: ${m.cpus} cpus, load ${m.loadAverage.join(' ')}, PostgreSQL ${m.postgres}, fsync ${m.fsync}, synchronous_commit ${m.synchronousCommit}, node ${m.node}`)
  const header = ['scenario', 'subject', report.unit, 'p50 ms', 'p99 ms', 'ratios']
  const rows: string[][] = [header]
  for (const s of report.scenarios) {
    for (const x of s.measurements) {
      const mine = s.ratios.filter((r) => r.subject === x.subject).map((r) => `÷ ${r.baseline} ${r.ratio.toFixed(2)}`)
      rows.push([s.name, x.subject, String(Math.round(x.rate)), x.p50Ms.toFixed(2), x.p99Ms.toFixed(2), mine.join(', ')])
    }
  }
  const widths = header.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)))
  for (const [i, r] of rows.entries()) {
    lines.push(r.map((c, j) => (j >= 2 && j <= 4 ? c.padStart(widths[j]!) : c.padEnd(widths[j]!))).join('  ').trimEnd())
    if (i === 0) lines.push(widths.map((w) => '-'.repeat(w)).join('  '))
  }
  for (const t of report.targets) lines.push(`target ${t.met ? 'met   ' : 'MISSED'}: ${t.description}`)
  for (const c of report.checks) lines.push(`check  ${c.ok ? 'ok    ' : 'FAILED'}: ${c.description}${c.detail ? ` (${c.detail})` : ''}`)
  return lines.join('\n')
}

export function round(value: number, digits = 2): number {
  const f = 10 ** digits
  return Math.round(value * f) / f
}

/** Latency percentiles from a list of durations in ms. */
export function percentiles(latencies: number[]): { p50Ms: number; p99Ms: number } {
  if (latencies.length === 0) return { p50Ms: 0, p99Ms: 0 }
  const sorted = Float64Array.from(latencies).sort()
  const at = (p: number) => round(sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!, 2)
  return { p50Ms: at(0.5), p99Ms: at(0.99) }
}
