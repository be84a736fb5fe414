import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { randomBytes } from 'node:crypto'
import pg from 'pg'
import t from 'tap'
import { dropAbandonedDatabases } from '../../../bench/lib/database.ts'
import { baseUrl } from '../../helpers/database.ts'

const admin = new pg.Client({ connectionString: Object.assign(new URL(baseUrl), { pathname: '/postgres' }).toString() })
await admin.connect()
t.teardown(() => admin.end())
const exists = async (name: string) => (await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [name])).rowCount === 1
const create = async (name: string) => {
  await admin.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}`)
  t.teardown(() => admin.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)} WITH (FORCE)`))
  return name
}
const hex = () => randomBytes(3).toString('hex')

t.test("drops the databases of benchmarks whose process is gone, and no one else's", async (t) => {
  const child = spawn(process.execPath, ['-e', ''])
  await once(child, 'exit')
  const deadPid = child.pid!
  const abandoned = await create(`bench_rebuild_${deadPid}_${hex()}`)
  const running = await create(`bench_rebuild_${process.pid}_${hex()}`)
  const notOurs = await create(`bench_kept_by_hand_${hex()}x`)

  await dropAbandonedDatabases(baseUrl)
  // Another benchmark of the suite may have dropped it first: the state is what counts.
  t.notOk(await exists(abandoned), 'the database named after a process that exited is dropped')
  t.ok(await exists(running), "a running process's database is kept")
  t.ok(await exists(notOurs), 'a database whose name is not a benchmark\'s is kept')
})

t.test('leaves a server on another machine alone: the pids in its names are not ours to ask about', async (t) => {
  // Nothing listens there: asking would fail, so an empty answer shows nothing was asked.
  t.same(await dropAbandonedDatabases('postgres://postgres@db.example.invalid:5432/postgres'), [])
})
