import { fork } from 'node:child_process'
import path from 'node:path'
import { createBenchDatabase } from './database.ts'

export interface CommandServers {
  serviceUrl: string
  bareUrl: string
  /** Active wallets funded with 10,000 USD each. */
  wallets: string[]
  /** Rows the bare GET route can read. */
  bareIds: string[]
  /** The servers' process (for its memory). */
  pid: number
  stop(): Promise<void>
}

/** Starts the whole service and the bare ceiling route in a child process on a throw-away database. */
export async function startCommandServers(serverUrl: string, wallets: number): Promise<CommandServers> {
  const database = await createBenchDatabase(serverUrl, 'http')
  const child = fork(path.join(import.meta.dirname, 'command-servers.ts'), {
    env: { ...process.env, DATABASE_URL: database.url, BENCH_WALLETS: String(wallets) },
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
    return {
      ...ready,
      pid: child.pid!,
      stop: async () => {
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
