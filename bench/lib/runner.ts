import { readdir } from 'node:fs/promises'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { describeMachine, writeReport, type Benchmark, type Report } from './report.ts'

export const benchDir = path.join(import.meta.dirname, '..')

/** Every benchmark is a file directly under bench/ exporting `title` and `run`. */
export async function listBenchmarks(): Promise<string[]> {
  const files = await readdir(benchDir)
  return files.filter((f) => f.endsWith('.ts') && f !== 'run.ts').map((f) => f.slice(0, -3)).sort()
}

export async function loadBenchmark(name: string): Promise<Benchmark> {
  const mod = (await import(pathToFileURL(path.join(benchDir, `${name}.ts`)).href)) as Partial<Benchmark>
  if (typeof mod.run !== 'function' || typeof mod.title !== 'string') throw new Error(`bench/${name}.ts must export title and run`)
  return mod as Benchmark
}

export interface RunOptions {
  tiny: boolean
  databaseUrl: string
  resultsDir: string
  log?: (line: string) => void
}

/** Runs one benchmark, writes its JSON under the results folder and returns the report. */
export async function runBenchmark(name: string, options: RunOptions): Promise<{ report: Report; file: string }> {
  const log = options.log ?? ((line: string) => console.error(line))
  const benchmark = await loadBenchmark(name)
  const startedAt = new Date().toISOString()
  const machine = await describeMachine(options.databaseUrl)
  log(`${name}: ${benchmark.title}${options.tiny ? ' (tiny)' : ''}, load average ${machine.loadAverage.join(' ')}`)
  const body = await benchmark.run({ tiny: options.tiny, databaseUrl: options.databaseUrl, resultsDir: options.resultsDir, log })
  const report: Report = { benchmark: name, tiny: options.tiny, startedAt, finishedAt: new Date().toISOString(), machine, ...body }
  const file = await writeReport(report, options.resultsDir)
  return { report, file }
}
