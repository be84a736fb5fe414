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
  t.equal(run().status, 0)
  const extra = spawnSync(process.execPath, ['src/cli/main.ts', 'migrate', 'now'], { cwd: root, env: { PATH: process.env.PATH, DATABASE_URL: url }, encoding: 'utf8' })
  t.equal(extra.status, 2, 'migrate takes no arguments')
  t.match(extra.stderr, /unexpected argument now/)
})

t.test('help is an answer: usage on stdout, exit 0, touching no database', async (t) => {
  const url = freshDatabaseUrl(t, 'cl_cli_help')
  const cli = (...args: string[]) => spawnSync(process.execPath, ['src/cli/main.ts', ...args], { cwd: root, env: { PATH: process.env.PATH, DATABASE_URL: url }, encoding: 'utf8' })
  for (const args of [['--help'], ['help'], ['-h']]) {
    const help = cli(...args)
    t.equal(help.status, 0, args.join(' '))
    t.match(help.stdout, /^usage: circle-ledger \[--json\] <command>/)
  }
  const one = cli('migrate', '--help')
  t.equal(one.status, 0)
  t.match(one.stdout, /^usage: circle-ledger migrate\n  create the database if needed/)
  t.match(cli('dead-letters', 'replay', '--help').stdout, /usage: circle-ledger dead-letters list/)
  const admin = new pg.Client({ connectionString: Object.assign(new URL(url), { pathname: '/postgres' }).toString() })
  await admin.connect()
  t.teardown(() => admin.end())
  t.equal((await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [new URL(url).pathname.slice(1)])).rowCount, 0, 'migrate --help created nothing')
})

t.test('commands other than migrate change no schema: a database behind this version, or ahead of it, is refused', async (t) => {
  const url = freshDatabaseUrl(t, 'cl_cli_schema')
  // The pool's idle timeout (10 s) would keep a process that left it open alive past 8 s.
  const cli = (...args: string[]) => spawnSync(process.execPath, ['src/cli/main.ts', ...args], { cwd: root, env: { PATH: process.env.PATH, DATABASE_URL: url }, encoding: 'utf8', timeout: 8_000 })
  t.equal(cli('migrate').status, 0)
  const db = new pg.Client({ connectionString: url })
  await db.connect()
  t.teardown(() => db.end())
  // The last migration's row taken out (its tables stay): to this version, the database is one behind.
  const { name: last, timestamp } = (await db.query<{ name: string; timestamp: string }>('SELECT name, timestamp FROM kysely_migration ORDER BY name DESC LIMIT 1')).rows[0]!
  await db.query('DELETE FROM kysely_migration WHERE name = $1', [last])
  for (const args of [['journal', 'check'], ['audit', 'verify'], ['projections', 'status'], ['replay', '--after', '0']]) {
    const behind = cli(...args)
    t.equal(behind.status, 1, args.join(' '))
    t.match(behind.stderr, new RegExp(`behind this version of the ledger: 1 migration\\(s\\) not run \\(${last}\\); run \`npm run cli -- migrate\``))
  }
  t.equal((await db.query('SELECT 1 FROM kysely_migration WHERE name = $1', [last])).rowCount, 0, 'nothing migrated it')
  await db.query('INSERT INTO kysely_migration (name, timestamp) VALUES ($1, $2)', [last, timestamp])
  t.equal(cli('journal', 'check').status, 0, 'up to date again: the command runs')

  await db.query(`INSERT INTO kysely_migration (name, timestamp) VALUES ('29991231T2359-from-the-future', '2999-12-31T23:59:00Z')`)
  const ahead = cli('journal', 'check')
  t.equal(ahead.status, 1, 'refused, and the process exits (no pool left open)')
  t.match(ahead.stderr, /migrated by a newer version of the ledger \(29991231T2359-from-the-future\)/)
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
