import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
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

t.test('production without a Circle key exits 1 naming CIRCLE_API_KEY instead of starting the simulator', async (t) => {
  const res = run({ NODE_ENV: 'production', API_KEYS: 'ci:backend:' + 'a'.repeat(64), DATABASE_URL: 'postgres://postgres@127.0.0.1:1/never' })
  t.equal(res.status, 1)
  t.match(res.stderr, /CIRCLE_API_KEY: required in production/)
  t.notMatch(res.stdout + res.stderr, /using the embedded Circle simulator/)
})

t.test('the compose file does not default the Circle key or the card issuer to empty strings', async (t) => {
  const compose = readFileSync(path.join(root, 'docker-compose.yml'), 'utf8')
  for (const name of ['CIRCLE_API_KEY', 'CARD_ISSUER_URL', 'CARD_ISSUER_API_KEY']) {
    const line = compose.split('\n').find((l) => l.trim().startsWith(`${name}:`))
    t.ok(line, `${name} is passed to the service`)
    t.match(line!, new RegExp(`\\$\\{${name}:\\?`), `${name} must be set (\${${name}:?...}), not defaulted`)
  }
})

t.test('an unknown role is refused', async (t) => {
  const res = run({}, ['--role', 'teapot'])
  t.equal(res.status, 1)
  t.match(res.stderr, /unknown --role teapot/)
})
