import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { randomBytes } from 'node:crypto'
import path from 'node:path'
import pg from 'pg'
import t, { type Test } from 'tap'
import { createBenchDatabase, dropAbandonedDatabases } from '../../../bench/lib/database.ts'
import { baseUrl } from '../../helpers/database.ts'

const admin = new pg.Client({ connectionString: Object.assign(new URL(baseUrl), { pathname: '/postgres' }).toString() })
await admin.connect()
t.teardown(() => admin.end())
const exists = async (name: string) => (await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [name])).rowCount === 1
const dropLater = (name: string) => t.teardown(() => admin.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)} WITH (FORCE)`))
const moduleUrl = path.resolve(import.meta.dirname, '../../../bench/lib/database.ts')

/**
 * Benchmarks' databases, each made by a process of its own, all killed once every one is made (a
 * benchmark starting sweeps first: one started after a kill would drop what the test looks at).
 */
async function abandoned(t: Test, count = 1, beforeKill: (name: string) => Promise<unknown> = async () => undefined): Promise<string[]> {
  const script = `
    import { createBenchDatabase } from ${JSON.stringify(moduleUrl)}
    const d = await createBenchDatabase(${JSON.stringify(baseUrl)}, 'sweep_test')
    console.log(d.name)
    setInterval(() => undefined, 1000)`
  const made = await Promise.all(
    Array.from({ length: count }, async () => {
      const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] })
      t.teardown(() => child.kill('SIGKILL')) // should the test fail before it does
      const [line] = (await once(child.stdout, 'data')) as [Buffer]
      const name = line.toString().trim()
      dropLater(name)
      t.ok(await exists(name), 'the benchmark made its database')
      await beforeKill(name)
      return { child, name }
    }),
  )
  for (const { child } of made) child.kill('SIGKILL')
  await Promise.all(made.map(({ child }) => once(child, 'exit')))
  return made.map(({ name }) => name)
}

t.test("drops a killed benchmark's database, and keeps a running one's and every unmarked one", async (t) => {
  const [left] = (await abandoned(t)) as [string]
  const running = await createBenchDatabase(baseUrl, 'sweep_test')
  dropLater(running.name)
  // Named as a benchmark's, but without the mark: not ours to drop.
  const unmarked = `bench_sweep_test_${process.pid}_${randomBytes(3).toString('hex')}`
  await admin.query(`CREATE DATABASE ${pg.escapeIdentifier(unmarked)}`)
  dropLater(unmarked)

  // Swept at least once with all three there (the sweep before this process's first database ran
  // before them); again while the killed session's lock has not gone yet. Another benchmark of the
  // suite may have dropped the killed one first: whether it is gone is what counts.
  const dropped: string[] = []
  for (let i = 0; i === 0 || (i < 50 && (await exists(left))); i++) {
    if (i > 0) await new Promise((resolve) => setTimeout(resolve, 100))
    dropped.push(...(await dropAbandonedDatabases(baseUrl, () => undefined)))
  }
  t.notOk(await exists(left), "the killed benchmark's database is dropped")
  t.notOk(dropped.includes(running.name) || dropped.includes(unmarked), 'nothing else is named as dropped')
  t.ok(await exists(running.name), "a running benchmark's database is kept")
  t.ok(await exists(unmarked), 'a database without the mark is kept')

  await running.drop()
  t.notOk(await exists(running.name), 'a benchmark drops its own')
})

t.test('a drop that fails is reported, and the sweep goes on to the next database', async (t) => {
  // No one can drop a template database: neither this sweep nor one of another benchmark running
  // beside the test. Made one while its benchmark still runs, so no sweep gets to it first.
  const left = await abandoned(t, 2, async (name) => {
    await admin.query(`ALTER DATABASE ${pg.escapeIdentifier(name)} IS_TEMPLATE true`)
    t.teardown(() => admin.query(`ALTER DATABASE ${pg.escapeIdentifier(name)} IS_TEMPLATE false`))
  })
  // The killed sessions' locks can take a moment to go: the sweep is asked again until it tries both.
  let lines: string[] = []
  let dropped: string[] = []
  for (let i = 0; i < 50; i++) {
    lines = []
    dropped = await dropAbandonedDatabases(baseUrl, (line) => lines.push(line))
    if (left.every((name) => lines.some((line) => line.includes(name)))) break
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  t.notOk(dropped.some((name) => left.includes(name)), 'neither is named as dropped')
  for (const name of left) {
    t.ok(await exists(name), `${name} is still there`)
    t.match(lines.join('\n'), `could not drop the abandoned benchmark database ${name}: cannot drop a template database`, 'its failure is reported with the reason')
  }
})
