import { fork, type Serializable } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import path from 'node:path'
import pg from 'pg'
import { createDb, createPool } from '../../src/adapters/postgres/database.ts'
import { countDueTasks } from '../../src/process-manager/tasks.ts'
import type { Role } from '../../src/service.ts'
import { createBenchDatabase } from './database.ts'

/** CPU seconds used so far: the servers' Node process, and the PostgreSQL backends connected to their database. */
export interface CpuSeconds {
  node: number
  postgres: number
}

export interface CommandServers {
  /** The throw-away database they run on (a second process may join it). */
  databaseUrl: string
  serviceUrl: string
  bareUrl: string
  /** Active wallets funded with 10,000 USD each. */
  wallets: string[]
  /** Rows the bare GET route can read. */
  bareIds: string[]
  /** CPU used so far; the difference over a measurement is its cost (backends that came and went between two readings are missed). */
  cpu(): Promise<CpuSeconds>
  /** Process-manager tasks due and not yet run: Circle work the service has accepted and not yet carried out. */
  backlog(): Promise<number>
  /** The service's reconciliation runs so far, oldest first: when each ran, and what it looked at. */
  reconciliationRuns(): Promise<{ startedAt: Date; finishedAt: Date | null; checked: Record<string, number> }[]>
  /** Waits (up to `timeoutMs`) until no process-manager task is due; gives the seconds waited. */
  tasksDrained(timeoutMs: number): Promise<number>
  /**
   * Waits until the service has carried out what it accepted: no task due, and the servers and
   * their PostgreSQL backends together back within a tenth of a core of what `measureIdle` found
   * over a second (the projections, the notifier and the simulator's webhooks done too). A subject
   * measured next then has the machine to itself. Gives the seconds waited; gives up after `timeoutMs`.
   */
  quiet(options?: { timeoutMs?: number; log?: (line: string) => void }): Promise<number>
  /**
   * What the servers and their backends use idle, in cores, once no task is due (the median of three
   * one-second samples): the embedded Circle's polls every `CIRCLE_POLL_INTERVAL_MS` cost something
   * even with no work, more on a slower machine. Called before the first load by a benchmark that
   * uses `quiet`, which waits to get back to it.
   */
  measureIdle(): Promise<number>
  /** Restarts the service on the same database with only these roles; gives its new URL. */
  restart(roles: Role[]): Promise<string>
  /** The servers' process.memoryUsage(): which part of the RSS is V8's heap, and which is outside it. */
  memory(): Promise<NodeJS.MemoryUsage>
  /** The servers' process (for its memory). */
  pid: number
  stop(): Promise<void>
}

/**
 * Starts the whole service and the bare ceiling route in a child process on a throw-away database.
 * `admission: false` turns the service's admission control off (ADMISSION_BACKLOG_LIMIT=0): the API
 * then accepts work as fast as it can, however far the process manager falls behind.
 */
export async function startCommandServers(serverUrl: string, wallets: number, options: { admission?: boolean } = {}): Promise<CommandServers> {
  const database = await createBenchDatabase(serverUrl, 'http')
  const child = fork(path.join(import.meta.dirname, 'command-servers.ts'), {
    env: { ...process.env, DATABASE_URL: database.url, BENCH_WALLETS: String(wallets), BENCH_ADMISSION: options.admission === false ? 'off' : 'on' },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    // BENCH_CPU_PROF=<dir> writes a V8 CPU profile of the servers there, to see what limits them.
    execArgv: [...process.execArgv, ...(process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`] : [])],
  })
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve))
  try {
    const ready = await Promise.race([
      new Promise<{ serviceUrl: string; bareUrl: string; wallets: string[]; bareIds: string[] }>((resolve) => child.once('message', (m) => resolve(m as never))),
      exited.then((code) => Promise.reject(new Error(`the benchmark servers exited with ${code} before they were ready`))),
    ])
    const adminUrl = new URL(serverUrl)
    adminUrl.pathname = '/postgres'
    const admin = new pg.Client({ connectionString: adminUrl.toString() })
    await admin.connect()
    const own = createDb(createPool(database.url, 1))
    const backlog = () => countDueTasks(own)
    const reconciliationRuns = async () =>
      (await own.selectFrom('reconciliation_runs').select(['created_at', 'finished_at', 'checked']).orderBy('created_at').execute()).map((r) => ({
        startedAt: r.created_at,
        finishedAt: r.finished_at,
        checked: r.checked,
      }))
    // Backends seen once stay counted; a backend gone since counts with its last reading.
    const backends = new Map<number, number>()
    /** Sends the servers a message and gives the `answer` field of their first reply that has one. */
    const ask = <T>(message: Serializable, answer: string) =>
      new Promise<T>((resolve) => {
        const onMessage = (m: unknown) => {
          if (typeof m === 'object' && m !== null && answer in m) {
            child.off('message', onMessage)
            resolve((m as Record<string, T>)[answer]!)
          }
        }
        child.on('message', onMessage)
        child.send(message)
      })
    const cpu = async (): Promise<CpuSeconds> => {
      const node = ask<{ user: number; system: number }>('cpu', 'cpu').then((usage) => (usage.user + usage.system) / 1e6)
      const pids = await admin.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE datname = $1', [database.name])
      for (const { pid } of pids.rows) {
        // utime and stime, in clock ticks (100 a second), after the command name in parentheses.
        const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined)
        if (!stat) continue
        const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
        backends.set(pid, (Number(fields[11]) + Number(fields[12])) / 100)
      }
      return { node: await node, postgres: [...backends.values()].reduce((a, b) => a + b, 0) }
    }
    const memory = () => ask<NodeJS.MemoryUsage>('memory', 'memory')
    /** Cores the servers and their backends used over the next second. */
    const busyCores = async () => {
      const before = await cpu()
      await new Promise((r) => setTimeout(r, 1000))
      const after = await cpu()
      return after.node - before.node + (after.postgres - before.postgres)
    }
    const tasksDrained = async (timeoutMs: number) => {
      const started = Date.now()
      while ((await backlog()) > 0 && Date.now() - started < timeoutMs) await new Promise((r) => setTimeout(r, 100))
      return (Date.now() - started) / 1000
    }
    let idleCores: number | undefined
    const measureIdle = async () => {
      // The wallets' funding is done when the servers are ready; what it left for the process manager is not.
      await tasksDrained(60_000)
      const samples = [await busyCores(), await busyCores(), await busyCores()].sort((a, b) => a - b)
      return (idleCores = samples[1]!)
    }
    const quiet = async ({ timeoutMs = 600_000, log }: { timeoutMs?: number; log?: (line: string) => void } = {}) => {
      if (idleCores === undefined) throw new Error('quiet() needs measureIdle() first, before any load')
      const started = Date.now()
      let logged = started
      for (;;) {
        const due = await backlog()
        const cores = await busyCores()
        if (due === 0 && cores < idleCores + 0.1) return (Date.now() - started) / 1000
        if (Date.now() - started > timeoutMs) throw new Error(`the service was still busy after ${timeoutMs / 1000} s (${due} tasks due, ${cores.toFixed(2)} cores, ${idleCores.toFixed(2)} idle)`)
        if (log && Date.now() - logged >= 10_000) {
          logged = Date.now()
          log(`waiting for the service to carry out what it accepted: ${due} tasks due, ${cores.toFixed(2)} cores busy (${idleCores.toFixed(2)} idle), ${Math.round((logged - started) / 1000)} s`)
        }
      }
    }
    const restart = (roles: Role[]) => ask<string>({ roles }, 'restarted')
    return {
      ...ready,
      databaseUrl: database.url,
      cpu,
      quiet,
      measureIdle,
      tasksDrained,
      restart,
      memory,
      backlog,
      reconciliationRuns,
      pid: child.pid!,
      stop: async () => {
        await admin.end()
        await own.destroy()
        // The servers may have died under load (the soak reports it): then there is nothing to stop.
        if (child.connected) child.send('stop')
        const timer = setTimeout(() => child.kill('SIGKILL'), 10_000)
        await exited
        clearTimeout(timer)
        await database.drop()
      },
    }
  } catch (err) {
    child.kill('SIGKILL')
    await exited
    await database.drop()
    throw err
  }
}
