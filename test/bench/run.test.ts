import { mkdtemp, readFile, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import t from 'tap'
import type { Report } from '../../bench/lib/report.ts'
import { formatReport } from '../../bench/lib/report.ts'
import { listBenchmarks, runBenchmark } from '../../bench/lib/runner.ts'
import { baseUrl } from '../helpers/database.ts'

// Every benchmark under bench/ runs once in tiny mode, so none of them rots unnoticed. Tiny runs
// measure nothing: only the shape of the JSON and the run's own correctness checks are asserted.
// Each benchmark adds 10-20 s in tiny mode (more on a loaded machine); the file's budget grows
// with their number instead of the suite's per-file default. They run one after another in this
// one file, beside the suite's other files: as files of their own, three benchmarks' servers ran
// at once and, with the other files' connections, PostgreSQL's 100 ran out (the bare route
// answered 500: "sorry, too many clients already").
t.setTimeout(900_000)
const resultsDir = await mkdtemp(path.join(os.tmpdir(), 'bench-results-'))
t.teardown(() => rm(resultsDir, { recursive: true, force: true }))

const names = await listBenchmarks()
t.ok(names.includes('append'), 'the append benchmark is found')

for (const name of names) {
  t.test(`the ${name} benchmark runs in tiny mode and writes a sane report`, async (t) => {
    const { file } = await runBenchmark(name, { tiny: true, databaseUrl: baseUrl, resultsDir, log: () => undefined })
    t.equal(path.basename(file), `${name}.json`, 'the JSON is named after the benchmark')
    const report = JSON.parse(await readFile(file, 'utf8')) as Report
    t.equal(report.benchmark, name)
    t.equal(report.tiny, true)
    t.ok(report.title && report.unit, 'it has a title and a unit')
    t.ok(report.machine.cpus > 0 && report.machine.postgres && report.machine.fsync, 'it describes the machine')
    t.ok(report.scenarios.length > 0, 'it has scenarios')
    for (const s of report.scenarios) {
      t.ok(s.measurements.length >= 2, `${s.name}: a figure and at least one baseline`)
      for (const m of s.measurements) {
        t.ok(m.operations > 0 && m.rate > 0 && Number.isFinite(m.rate), `${s.name}, ${m.subject}: operations were measured`)
        t.ok(m.p50Ms >= 0 && m.p99Ms >= m.p50Ms, `${s.name}, ${m.subject}: latencies are ordered`)
      }
      t.ok(s.ratios.length > 0, `${s.name}: figures are given as ratios to their baselines`)
      for (const r of s.ratios) t.ok(r.ratio > 0 && Number.isFinite(r.ratio), `${s.name}: ${r.subject} ÷ ${r.baseline} is a number`)
    }
    t.ok(report.checks.length > 0, 'the run checks itself')
    for (const c of report.checks) t.ok(c.ok, `${c.description}${c.detail ? ` (${c.detail})` : ''}`)
    t.ok(Array.isArray(report.targets), 'targets are listed')
    t.match(formatReport(report), report.scenarios[0]!.name, 'the table names each scenario')
  })
}
