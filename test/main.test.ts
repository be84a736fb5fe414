import { spawnSync } from 'node:child_process'
import path from 'node:path'
import t from 'tap'

const root = path.resolve(import.meta.dirname, '..')
const run = (env: Record<string, string>, args: string[] = []) =>
  spawnSync(process.execPath, ['src/main.ts', ...args], { cwd: root, env: { PATH: process.env.PATH, ...env }, encoding: 'utf8', timeout: 20_000 })

t.test('a bad PORT stops start-up with a non-zero exit and a message naming PORT', async (t) => {
  const res = run({ PORT: 'abc' })
  t.equal(res.status, 1)
  t.match(res.stderr, /PORT/)
})

t.test('production without API_KEYS refuses to start', async (t) => {
  const res = run({ NODE_ENV: 'production' })
  t.equal(res.status, 1)
  t.match(res.stderr, /API_KEYS: required in production/)
})

t.test('an unknown role is refused', async (t) => {
  const res = run({}, ['--role', 'teapot'])
  t.equal(res.status, 1)
  t.match(res.stderr, /unknown --role teapot/)
})
