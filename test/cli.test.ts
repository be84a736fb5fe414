import { spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import path from 'node:path'
import pg from 'pg'
import t from 'tap'
import { baseUrl } from './helpers/database.ts'

const root = path.resolve(import.meta.dirname, '..')

t.test('npm run migrate creates the database, applies every migration, and is then up to date', async (t) => {
  const url = new URL(baseUrl)
  const name = `cl_cli_${randomBytes(4).toString('hex')}`
  url.pathname = `/${name}`
  t.teardown(async () => {
    const admin = new URL(baseUrl)
    admin.pathname = '/postgres'
    const client = new pg.Client({ connectionString: admin.toString() })
    await client.connect()
    await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
    await client.end()
  })
  const run = () => spawnSync(process.execPath, ['src/cli.ts', 'migrate'], { cwd: root, env: { PATH: process.env.PATH, DATABASE_URL: url.toString() }, encoding: 'utf8' })
  const first = run()
  t.equal(first.status, 0, first.stderr)
  t.match(first.stdout, /applied: .*event-store.*idempotency.*process-manager/)
  const second = run()
  t.equal(second.status, 0)
  t.match(second.stdout, /up to date/)
  const usage = spawnSync(process.execPath, ['src/cli.ts'], { cwd: root, env: { PATH: process.env.PATH }, encoding: 'utf8' })
  t.equal(usage.status, 2)
})
