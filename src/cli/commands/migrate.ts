import { createDb, createPool, ensureDatabase, migrate as runMigrations } from '../../adapters/postgres/database.ts'
import type { CliCommand } from '../context.ts'
import { noArguments } from '../options.ts'

export const migrate: CliCommand = {
  summary: 'create the database if needed and apply pending migrations',
  usage: 'migrate',
  async run(args, ctx) {
    noArguments(args)
    await ensureDatabase(ctx.config.DATABASE_URL)
    const db = createDb(createPool(ctx.config.DATABASE_URL, 2))
    try {
      const applied = await runMigrations(db)
      if (ctx.json) ctx.stdout.write(JSON.stringify({ applied }) + '\n')
      else ctx.stdout.write(applied.length ? `applied: ${applied.join(', ')}\n` : 'up to date\n')
    } finally {
      await db.destroy()
    }
    return 0
  },
}
