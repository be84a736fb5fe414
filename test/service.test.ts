import pino from 'pino'
import t from 'tap'
import { loadConfig } from '../src/config.ts'
import { startService } from '../src/service.ts'
import { freshDatabaseUrl } from './helpers/database.ts'

t.test('start-up creates and migrates a missing database, then serves health', async (t) => {
  const config = loadConfig({ DATABASE_URL: freshDatabaseUrl(t, 'cl_start'), PORT: '0', HOST: '127.0.0.1' })
  const service = await startService(config, ['api'], pino({ level: 'silent' }))
  const res = await fetch(`${service.url}/health`)
  t.equal(res.status, 200)
  t.equal(((await res.json()) as { status: string }).status, 'ok')
  await service.stop()
  await t.rejects(fetch(`${service.url}/health`), 'after stop the port is closed')
})
