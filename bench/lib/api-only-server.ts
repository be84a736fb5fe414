import pino from 'pino'
import { benchServiceConfig } from './service-config.ts'
import { startService } from '../../src/service.ts'

/**
 * A child process of bench/standalone/web-concurrency.ts: a second service process with only the
 * `api` role, on the database of the first (DATABASE_URL from the parent), admission control off as
 * in the commands benchmark. Reports its URL over IPC; answers 'cpu'; stops on 'stop'.
 */
const service = await startService(benchServiceConfig(process.env.DATABASE_URL!, { admission: false }), ['api'], pino({ level: 'silent' }))
process.send!({ apiUrl: service.url })
process.on('message', (message) => {
  if (message === 'cpu') process.send!({ cpu: process.cpuUsage() })
  if (message === 'stop') void service.stop().then(() => process.exit(0))
})
process.on('disconnect', () => void service.stop().then(() => process.exit(0)))
