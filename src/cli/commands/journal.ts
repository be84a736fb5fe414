import { checkJournal } from '../../ledger/check.ts'
import { UsageError, type CliCommand } from '../context.ts'

export const journal: CliCommand = {
  summary: 'check the journal: entries balance, trial balance is zero, wallets agree with the read model',
  usage: 'journal check',
  async run(args, ctx) {
    if (args.length !== 1 || args[0] !== 'check') throw new UsageError(`expected check, got ${args.join(' ') || 'nothing'}`)
    const conn = await ctx.connect()
    let result
    try {
      result = await checkJournal(conn.db)
    } finally {
      await conn.close()
    }
    if (ctx.json) ctx.stdout.write(`${JSON.stringify(result)}\n`)
    else if (result.ok) {
      ctx.stdout.write(`journal holds: ${result.entries} entries, ${result.accounts} accounts, trial balance 0, ${result.wallets} wallets agree at position ${result.position ?? '-'}\n`)
    } else ctx.stdout.write(`journal check failed: account ${result.failure.account}: ${result.failure.rule}: ${result.failure.message}\n`)
    return result.ok ? 0 : 1
  },
}
