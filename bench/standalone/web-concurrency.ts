import { fork, type ChildProcess } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { mkdir, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { load, transferRequest } from '../lib/autocannon.ts'
import { createBenchDatabase } from '../lib/database.ts'
import { createDb, createPool } from '../../src/adapters/postgres/database.ts'
import { countDueTasks } from '../../src/process-manager/tasks.ts'

/**
 * Whether a second API process (what WEB_CONCURRENCY would offer) makes POST /transfers faster on
 * this machine. The same database and the same 64 funded wallets serve, alternately:
 * - one process with every role (as `npm start`), at 32 connections;
 * - that process and a second one with only the `api` role (its POSTs wait for the first one's
 *   projections by polling their checkpoint), 16 connections each.
 * Each round waits until the process manager has carried out what was accepted, so the next
 * measurement does not share the cores with the last one's backlog. Machine-wide CPU from /proc/stat.
 *
 *   npm exec -- node bench/standalone/web-concurrency.ts      # WEBC_SECONDS=15 WEBC_ROUNDS=3 by default
 *
 * Writes bench/results/web-concurrency.json.
 */
const serverUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'
const seconds = Number(process.env.WEBC_SECONDS ?? 15)
const rounds = Number(process.env.WEBC_ROUNDS ?? 3)
const log = (line: string) => process.stderr.write(`web-concurrency: ${line}\n`)

const database = await createBenchDatabase(serverUrl, 'webc')
const children: ChildProcess[] = []
const firstMessage = (child: ChildProcess) => new Promise<Record<string, unknown>>((resolve) => child.once('message', (m) => resolve(m as Record<string, unknown>)))
try {
  log('starting the service (every role) and funding 64 wallets')
  const full = fork(path.join(import.meta.dirname, '../lib/command-servers.ts'), { env: { ...process.env, DATABASE_URL: database.url, BENCH_WALLETS: '64', BENCH_ADMISSION: 'off' }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  children.push(full)
  const ready = (await firstMessage(full)) as { serviceUrl: string; wallets: string[] }
  log('starting a second process with only the api role')
  const apiOnly = fork(path.join(import.meta.dirname, '../lib/api-only-server.ts'), { env: { ...process.env, DATABASE_URL: database.url }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  children.push(apiOnly)
  const { apiUrl } = (await firstMessage(apiOnly)) as { apiUrl: string }
  const db = createDb(createPool(database.url, 1))
  const cpu = () => {
    const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number)
    return { idle: fields[3]! + fields[4]!, total: fields.reduce((a, b) => a + b, 0) }
  }
  const quiet = async () => {
    const started = Date.now()
    while ((await countDueTasks(db)) > 0) await new Promise((r) => setTimeout(r, 200))
    await new Promise((r) => setTimeout(r, 3000))
    return Math.round((Date.now() - started) / 1000)
  }
  await quiet()
  const results: Record<string, unknown>[] = []
  const measure = async (subject: string, targets: [string, number][]) => {
    log(`round ${Math.floor(results.length / 2) + 1}/${rounds}: ${subject}, ${seconds} s`)
    const before = cpu()
    const runs = await Promise.all(targets.map(([url, connections]) => load(url, { connections, seconds, next: () => transferRequest(ready.wallets) })))
    const after = cpu()
    const ok = runs.reduce((a, r) => a + r['2xx'], 0)
    const errors = runs.reduce((a, r) => a + r.errors + r.timeouts + r.non2xx, 0)
    const backlog = await countDueTasks(db)
    const drainSeconds = await quiet()
    const row = {
      subject,
      rate: Math.round(ok / runs[0]!.duration),
      p50Ms: Math.max(...runs.map((r) => r.latency.p50)),
      p99Ms: Math.max(...runs.map((r) => r.latency.p99)),
      errors,
      busyCores: Number((((after.total - before.total - (after.idle - before.idle)) / (after.total - before.total)) * 2).toFixed(2)),
      backlog,
      drainSeconds,
    }
    results.push(row)
    log(JSON.stringify(row))
  }
  for (let i = 0; i < rounds; i++) {
    await measure('one-process', [[ready.serviceUrl, 32]])
    await measure('two-processes', [
      [ready.serviceUrl, 16],
      [apiUrl, 16],
    ])
  }
  await db.destroy()
  const mean = (subject: string) => {
    const rates = results.filter((r) => r.subject === subject).map((r) => r.rate as number)
    return rates.reduce((a, b) => a + b, 0) / rates.length
  }
  const ratio = Number((mean('two-processes') / mean('one-process')).toFixed(2))
  const out = { title: 'POST /transfers at 32 connections: one service process against two (the second with only the api role)', seconds, rounds, results, ratio }
  await mkdir(path.join(import.meta.dirname, '../results'), { recursive: true })
  await writeFile(path.join(import.meta.dirname, '../results/web-concurrency.json'), `${JSON.stringify(out, null, 2)}\n`)
  console.log('| subject | requests/s | p50 ms | p99 ms | errors | busy cores | backlog | drain s |')
  console.log('|---|---:|---:|---:|---:|---:|---:|---:|')
  for (const r of results) console.log(`| ${r.subject} | ${r.rate} | ${r.p50Ms} | ${r.p99Ms} | ${r.errors} | ${r.busyCores} | ${r.backlog} | ${r.drainSeconds} |`)
  console.log(`two processes ÷ one (mean requests/s): ${ratio}`)
} finally {
  for (const child of children) if (child.connected) child.send('stop')
  await new Promise((r) => setTimeout(r, 3000))
  for (const child of children) child.kill('SIGKILL')
  await database.drop()
}
