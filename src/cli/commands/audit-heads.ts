import { jetstream } from '@nats-io/jetstream'
import { connect } from '@nats-io/transport-node'
import { publishedHeads } from '../../notifier/audit-heads.ts'
import { UsageError, type CliCommand } from '../context.ts'

/**
 * `audit-heads list`: the audit chain heads kept in the NATS stream, oldest first. Someone who
 * kept these (or reads them from the stream) can check that the stored audit chain still passes
 * through each (position, hash).
 */
export const auditHeads: CliCommand = {
  summary: 'audit chain heads published on NATS (<prefix>.audit.head), oldest first',
  usage: 'audit-heads list',
  async run(args, ctx) {
    const [action, ...rest] = args
    if (action !== 'list' || rest.length > 0) throw new UsageError(`expected list, got ${args.join(' ') || 'nothing'}`)
    const { NATS_URL, NATS_STREAM, NATS_SUBJECT_PREFIX } = ctx.config
    const nc = await connect({ servers: NATS_URL, timeout: 5000 }).catch((err: unknown) => {
      throw new Error(`cannot reach NATS at ${NATS_URL}: ${err instanceof Error ? err.message : String(err)}`, { cause: err })
    })
    try {
      const { heads, invalid } = await publishedHeads(jetstream(nc), { stream: NATS_STREAM, subjectPrefix: NATS_SUBJECT_PREFIX })
      if (ctx.json) {
        ctx.stdout.write(JSON.stringify({ stream: NATS_STREAM, heads, invalid }) + '\n')
      } else {
        ctx.stdout.write(`${heads.length} audit heads in stream ${NATS_STREAM}${invalid ? ` (${invalid} unreadable messages skipped)` : ''}\n`)
        for (const h of heads) ctx.stdout.write(`${String(h.seq).padStart(8)}  ${h.at}  position ${h.position.padStart(10)}  ${h.hash}\n`)
      }
      return 0
    } finally {
      await nc.close()
    }
  },
}
