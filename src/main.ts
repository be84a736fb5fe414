import { parseArgs } from 'node:util'
import { ConfigError, loadConfig } from './config.ts'
import { createLogger } from './logger.ts'
import { startService, ROLES, type Role } from './service.ts'

const { values } = parseArgs({ options: { role: { type: 'string', multiple: true } }, allowPositionals: false })

let config
try {
  config = loadConfig()
} catch (err) {
  if (err instanceof ConfigError) {
    process.stderr.write(`circle-ledger: ${err.message}\n`)
    process.exit(1)
  }
  throw err
}

const roles = (values.role ?? [...ROLES]).flatMap((r) => r.split(','))
const unknown = roles.filter((r) => !(ROLES as readonly string[]).includes(r))
if (unknown.length > 0) {
  process.stderr.write(`circle-ledger: unknown --role ${unknown.join(', ')} (known: ${ROLES.join(', ')})\n`)
  process.exit(1)
}

const logger = createLogger(config.LOG_LEVEL, { format: config.LOG_FORMAT })
try {
  const service = await startService(config, roles as Role[], logger)
  let stopping = false
  const shutdown = (signal: string) => {
    if (stopping) return
    stopping = true
    logger.info({ signal }, 'shutting down')
    const force = setTimeout(() => {
      logger.error('shutdown took too long; exiting')
      process.exit(1)
    }, 15_000)
    force.unref()
    service.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err }, 'shutdown failed')
        process.exit(1)
      },
    )
  }
  process.on('SIGTERM', () => shutdown('SIGTERM'))
  process.on('SIGINT', () => shutdown('SIGINT'))
} catch (err) {
  logger.fatal({ err }, 'start-up failed')
  process.exit(1)
}
