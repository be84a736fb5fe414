import { jetstream } from '@nats-io/jetstream'
import { connect as connectNats } from '@nats-io/transport-node'
import type { Db } from '../../adapters/postgres/database.ts'
import type { Config } from '../../config.ts'
import { positionKey } from '../../ledger/position-key.ts'
import { checkPublishedHeads, publishedHeads, type HeadCheck } from '../../notifier/audit-heads.ts'
import { verificationMessage, verifyChain } from '../../ledger/verify.ts'
import { UsageError, type CliCommand } from '../context.ts'
import { orderedRange, parseOptions, positionOption } from '../options.ts'
import { progressBar } from '../progress.ts'

export const audit: CliCommand = {
  summary: 'recompute the audit hash chain from the event store; exit 1 at the first break',
  usage: 'audit verify [--from <position>] [--to <position>] [--against-nats]',
  async run(args, ctx) {
    const [action, ...given] = args
    if (action !== 'verify') throw new UsageError(`expected verify, got ${action ?? 'nothing'}`)
    const againstNats = given.includes('--against-nats')
    const rest = given.filter((a) => a !== '--against-nats')
    const opts = parseOptions(rest, ['from', 'to'] as const)
    const from = positionOption(opts.from, 'from', ctx.config.EVENT_STORE)
    const to = positionOption(opts.to, 'to', ctx.config.EVENT_STORE)
    orderedRange({ name: 'from', value: from }, { name: 'to', value: to })
    const conn = await ctx.connect()
    const bar = ctx.json ? undefined : progressBar('audit verify', ctx.stderr)
    let result
    let heads: HeadCheck | undefined
    try {
      result = await verifyChain({ db: conn.db, store: conn.store, from, to, onProgress: (done, total) => bar?.update(done, total) })
      bar?.stop()
      // The chain recomputes from the events; the heads published on NATS catch a rewrite of both.
      if (againstNats) heads = await checkAgainstNats(ctx.config, conn.db)
    } finally {
      bar?.stop()
      await conn.close()
    }
    const message = verificationMessage(result)
    // Finding no heads verifies nothing: a wrong NATS_STREAM or NATS_SUBJECT_PREFIX must not pass.
    const headsOk = heads === undefined || (heads.checked > 0 && heads.mismatches.length === 0)
    if (ctx.json) ctx.stdout.write(`${JSON.stringify({ ...result, message, ...(heads ? { publishedHeads: heads } : {}) })}\n`)
    else {
      if (result.ok) ctx.stdout.write(`${message}\n`)
      else ctx.stdout.write(`chain broken at position ${result.break.position}: ${result.break.kind}: ${result.break.message}\n`)
      if (heads && headsOk) ctx.stdout.write(`${heads.checked} heads published on NATS match the stored chain\n`)
      if (heads?.checked === 0) {
        ctx.stdout.write(`no audit heads found in NATS stream ${ctx.config.NATS_STREAM} under ${ctx.config.NATS_SUBJECT_PREFIX}.audit.head: nothing to check them against (check NATS_STREAM and NATS_SUBJECT_PREFIX)\n`)
      }
      for (const m of heads?.mismatches ?? []) {
        ctx.stdout.write(`published head at position ${m.position} (${m.at}) is ${m.published}; the stored chain has ${m.stored ?? 'no row there'}\n`)
      }
    }
    return result.ok && headsOk ? 0 : 1
  },
}

/** The published heads (position, hash) against the stored audit rows at the same positions. */
async function checkAgainstNats(config: Config, db: Db): Promise<HeadCheck> {
  const nc = await connectNats({ servers: config.NATS_URL, timeout: 5000 }).catch((err: unknown) => {
    throw new Error(`cannot reach NATS at ${config.NATS_URL}: ${err instanceof Error ? err.message : String(err)}`, { cause: err })
  })
  try {
    const { heads } = await publishedHeads(jetstream(nc), { stream: config.NATS_STREAM, subjectPrefix: config.NATS_SUBJECT_PREFIX })
    return await checkPublishedHeads(heads, async (position) => {
      const row = await db.selectFrom('audit_log').select('hash').where('position_key', '=', positionKey(position)).executeTakeFirst()
      return row?.hash
    })
  } finally {
    await nc.close()
  }
}
