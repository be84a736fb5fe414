import { fork, type ChildProcess } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { mkdir, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { load, transferRequest } from '../lib/autocannon.ts'
import { startCommandServers } from '../lib/http-servers.ts'

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

log('starting the service (every role) and funding 64 wallets')
const servers = await startCommandServers(serverUrl, 64, { admission: false })
let apiOnly: ChildProcess | undefined
try {
  log('starting a second process with only the api role')
  apiOnly = fork(path.join(import.meta.dirname, '../lib/api-only-server.ts'), { env: { ...process.env, DATABASE_URL: servers.databaseUrl }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  const { apiUrl } = await new Promise<{ apiUrl: string }>((resolve) => apiOnly!.once('message', (m) => resolve(m as { apiUrl: string })))
  const cpu = () => {
    const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number)
    return { idle: fields[3]! + fields[4]!, total: fields.reduce((a, b) => a + b, 0) }
  }
  /** Until the process manager has carried out what was accepted, then 3 s more; gives the seconds waited. */
  const quiet = async () => {
    const drained = await servers.tasksDrained(600_000)
    await new Promise((r) => setTimeout(r, 3000))
    return Math.round(drained + 3)
  }
  await quiet()
  const results: Record<string, unknown>[] = []
  const measure = async (subject: string, targets: [string, number][]) => {
    log(`round ${Math.floor(results.length / 2) + 1}/${rounds}: ${subject}, ${seconds} s`)
    const before = cpu()
    const runs = await Promise.all(targets.map(([url, connections]) => load(url, { connections, seconds, next: () => transferRequest(servers.wallets) })))
    const after = cpu()
    const ok = runs.reduce((a, r) => a + r['2xx'], 0)
    const errors = runs.reduce((a, r) => a + r.errors + r.timeouts + r.non2xx, 0)
    const backlog = await servers.backlog()
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
    await measure('one-process', [[servers.serviceUrl, 32]])
    await measure('two-processes', [
      [servers.serviceUrl, 16],
      [apiUrl, 16],
    ])
  }
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
  if (apiOnly?.connected) apiOnly.send('stop')
  await new Promise((r) => setTimeout(r, 3000))
  apiOnly?.kill('SIGKILL')
  await servers.stop()
}
