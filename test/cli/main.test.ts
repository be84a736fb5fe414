import { spawnSync } from 'node:child_process'
import path from 'node:path'
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
