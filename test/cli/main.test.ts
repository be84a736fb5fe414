import { spawnSync } from 'node:child_process'
import path from 'node:path'
import pg from 'pg'
import t from 'tap'
import { freshDatabaseUrl } from '../helpers/database.ts'

const root = path.resolve(import.meta.dirname, '../..')

t.test('npm run migrate creates the database, applies every migration, and is then up to date', async (t) => {
  const url = freshDatabaseUrl(t, 'cl_cli')
  const run = () => spawnSync(process.execPath, ['src/cli/main.ts', 'migrate'], { cwd: root, env: { PATH: process.env.PATH, DATABASE_URL: url }, encoding: 'utf8' })
  const first = run()
  t.equal(first.status, 0, first.stderr)
  t.match(first.stdout, /applied: .*event-store.*idempotency.*process-manager/)
  const second = run()
  t.equal(second.status, 0)
  t.match(second.stdout, /up to date/)
  const usage = spawnSync(process.execPath, ['src/cli/main.ts'], { cwd: root, env: { PATH: process.env.PATH }, encoding: 'utf8' })
  t.equal(usage.status, 2)
})

t.test('a command other than migrate refuses a database that does not exist, and creates none', async (t) => {
  const url = freshDatabaseUrl(t, 'cl_cli_missing')
  const name = new URL(url).pathname.slice(1)
  for (const args of [['audit', 'verify'], ['replay', '--after', '0'], ['projections', 'status']]) {
    const run = spawnSync(process.execPath, ['src/cli/main.ts', ...args], { cwd: root, env: { PATH: process.env.PATH, DATABASE_URL: url }, encoding: 'utf8' })
    t.equal(run.status, 1, `${args.join(' ')} exits 1`)
    t.equal(run.stdout, '', 'and reports nothing as verified or replayed')
    t.match(run.stderr, new RegExp(`database ${name} does not exist .*npm run cli -- migrate`), 'it says which database is missing and how to create it')
  }
  const admin = new pg.Client({ connectionString: Object.assign(new URL(url), { pathname: '/postgres' }).toString() })
  await admin.connect()
  t.teardown(() => admin.end())
  const found = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [name])
  t.equal(found.rowCount, 0, 'no database was created')
})
