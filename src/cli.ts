import { parseArgs } from 'node:util'
import { ConfigError, loadConfig } from './config.ts'
import { createDb, createPool, ensureDatabase, migrate } from './adapters/postgres/database.ts'

/** `npm run migrate` (= `node src/cli.ts migrate`): creates the database if needed and applies pending migrations. */
const { positionals } = parseArgs({ allowPositionals: true })
const [command] = positionals

async function main(): Promise<number> {
  const config = loadConfig()
  switch (command) {
    case 'migrate': {
      await ensureDatabase(config.DATABASE_URL)
      const pool = createPool(config.DATABASE_URL, 2)
      const db = createDb(pool)
      try {
        const applied = await migrate(db)
        process.stdout.write(applied.length ? `applied: ${applied.join(', ')}\n` : 'up to date\n')
      } finally {
        await db.destroy()
      }
      return 0
    }
    default:
      process.stderr.write(`usage: node src/cli.ts migrate\n`)
      return 2
  }
}

try {
  process.exitCode = await main()
} catch (err) {
  process.stderr.write(`circle-ledger: ${err instanceof ConfigError ? err.message : err instanceof Error ? err.message : String(err)}\n`)
  process.exitCode = 1
}
