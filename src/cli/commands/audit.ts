import { positionKey } from '../../ledger/position-key.ts'
import { verificationMessage, verifyChain } from '../../ledger/verify.ts'
import { UsageError, type CliCommand } from '../context.ts'
import { parseOptions, positionOption } from '../options.ts'
import { progressBar } from '../progress.ts'

export const audit: CliCommand = {
  summary: 'recompute the audit hash chain from the event store; exit 1 at the first break',
  usage: 'audit verify [--from <position>] [--to <position>]',
  async run(args, ctx) {
    const [action, ...rest] = args
    if (action !== 'verify') throw new UsageError(`expected verify, got ${action ?? 'nothing'}`)
    const opts = parseOptions(rest, ['from', 'to'] as const)
    const from = positionOption(opts.from, 'from')
    const to = positionOption(opts.to, 'to')
    if (from !== undefined && to !== undefined && positionKey(to) < positionKey(from)) throw new UsageError('--to comes before --from')
    const conn = await ctx.connect()
    const bar = ctx.json ? undefined : progressBar('audit verify', ctx.stderr)
    let result
    try {
      result = await verifyChain({ db: conn.db, store: conn.store, from, to, onProgress: (done, total) => bar?.update(done, total) })
    } finally {
      bar?.stop()
      await conn.close()
    }
    const message = verificationMessage(result)
    if (ctx.json) ctx.stdout.write(`${JSON.stringify({ ...result, message })}\n`)
    else if (result.ok) ctx.stdout.write(`${message}\n`)
    else ctx.stdout.write(`chain broken at position ${result.break!.position}: ${result.break!.kind}: ${result.break!.message}\n`)
    return result.ok ? 0 : 1
  },
}
