import { randomBytes } from 'node:crypto'
import pg from 'pg'
import pino from 'pino'
import t from 'tap'
import { loadConfig } from '../src/config.ts'
import { startService } from '../src/service.ts'
import { baseUrl } from './helpers/database.ts'

t.test('start-up creates and migrates a missing database, then serves health', async (t) => {
  const url = new URL(baseUrl)
  const name = `cl_start_${randomBytes(4).toString('hex')}`
  url.pathname = `/${name}`
  const config = loadConfig({ DATABASE_URL: url.toString(), PORT: '0', HOST: '127.0.0.1' })
  const service = await startService(config, ['api'], pino({ level: 'silent' }))
  t.teardown(async () => {
    const admin = new URL(baseUrl)
    admin.pathname = '/postgres'
    const client = new pg.Client({ connectionString: admin.toString() })
    await client.connect()
    await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
    await client.end()
  })
  const res = await fetch(`${service.url}/health`)
  t.equal(res.status, 200)
  t.equal(((await res.json()) as { status: string }).status, 'ok')
  await service.stop()
  await t.rejects(fetch(`${service.url}/health`), 'after stop the port is closed')
})
