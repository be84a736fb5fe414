import path from 'node:path'
import { formatReport } from './lib/report.ts'
import { benchDir, listBenchmarks, runBenchmark } from './lib/runner.ts'

/**
 * `npm run bench` runs every benchmark, `npm run bench -- <name>...` the named ones; `--tiny` runs
 * each for a moment (what the test suite does). Results go to bench/results/<name>.json.
 */
const args = process.argv.slice(2)
const tiny = args.includes('--tiny')
const names = args.filter((a) => !a.startsWith('--'))
const known = await listBenchmarks()
const unknown = names.filter((n) => !known.includes(n))
if (unknown.length > 0) {
  console.error(`unknown benchmark ${unknown.join(', ')}; known: ${known.join(', ')}`)
  process.exit(2)
}
const databaseUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'
const resultsDir = tiny ? path.join(benchDir, 'results', 'tiny') : path.join(benchDir, 'results')
for (const name of names.length > 0 ? names : known) {
  const { report, file } = await runBenchmark(name, { tiny, databaseUrl, resultsDir })
  console.log(formatReport(report) + '\n')
  console.error(`wrote ${path.relative(process.cwd(), file)}`)
}
