import { readFile } from 'node:fs/promises'
import path from 'node:path'
import t from 'tap'
import { listBenchmarks } from '../../bench/lib/runner.ts'

// Every benchmark under bench/ runs once in tiny mode, each in its own test file (so they run in
// parallel with the rest of the suite): a benchmark added without one fails here.
const names = await listBenchmarks()
t.ok(names.includes('append') && names.includes('commands'), 'the benchmarks are found')
t.notOk(names.includes('run'), 'the runner itself is not a benchmark')

for (const name of names) {
  const file = path.join(import.meta.dirname, `${name}.test.ts`)
  const source = await readFile(file, 'utf8').catch(() => '')
  t.match(source, `benchmarkRunsInTinyMode('${name}')`, `test/bench/${name}.test.ts runs the ${name} benchmark in tiny mode`)
}
