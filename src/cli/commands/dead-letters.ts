import { userInfo } from 'node:os'
import { DomainError } from '../../commands/errors.ts'
import { discard, getDeadLetter, listDeadLetters, replay, type DeadLetterRow } from '../../dead-letters/dead-letters.ts'
import { UsageError, type CliCommand } from '../context.ts'
import { noArguments, parseOptions } from '../options.ts'

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

/** CLI actions have no API key: the audit log names the operating-system user instead. */
const actor = () => `admin:cli:${userInfo().username}`

/** What the arguments ask for: each action with only the options it takes. */
type Request =
  | { action: 'list'; kind: 'webhook' | 'task' | undefined; status: 'open' | 'replayed' | 'discarded' | undefined }
  | { action: 'replay'; id: string }
  | { action: 'discard'; id: string; reason: string }

function parse(args: string[]): Request {
  const [action, ...rest] = args
  if (action !== 'list' && action !== 'replay' && action !== 'discard') throw new UsageError(`expected list, replay or discard, got ${action ?? 'nothing'}`)
  // Anything an action does not take is refused: a flag it would ignore (`replay <id> --dry-run`)
  // must not let it act anyway.
  if (action === 'list') {
    const { kind, status } = parseOptions(rest, ['kind', 'status'] as const)
    if (kind !== undefined && kind !== 'webhook' && kind !== 'task') throw new UsageError('--kind is webhook or task')
    if (status !== undefined && status !== 'open' && status !== 'replayed' && status !== 'discarded') throw new UsageError('--status is open, replayed or discarded')
    return { action, kind, status }
  }
  const [given, ...options] = rest
  if (given === undefined || !UUID.test(given)) throw new UsageError('name the dead letter by its id (a UUID)')
  // Ids are stored in lower case, as the service writes them.
  const id = given.toLowerCase()
  if (action === 'replay') {
    noArguments(options)
    return { action, id }
  }
  const reason = parseOptions(options, ['reason'] as const).reason?.trim()
  if (!reason) throw new UsageError('discard needs --reason <text>')
  return { action, id, reason }
}

const line = (r: DeadLetterRow) =>
  `${r.id}  ${r.kind.padEnd(7)} ${r.status.padEnd(9)} ${r.detail.padEnd(10)} ${r.subject}  attempts ${r.attempts}${r.attention ? `  attention ${r.attention}` : ''}\n    ${r.error}\n`

export const deadLetters: CliCommand = {
  summary: 'work that kept failing (webhooks, process-manager tasks): list, replay, or discard with a reason',
  usage: 'dead-letters list [--kind webhook|task] [--status open|replayed|discarded] | replay <id> | discard <id> --reason <text>',
  async run(args, ctx) {
    const request = parse(args)
    const conn = await ctx.connect()
    try {
      if (request.action === 'list') {
        const { kind, status } = request
        const rows: DeadLetterRow[] = []
        let cursor: string | undefined
        do {
          const page = await listDeadLetters(conn.db, { kind, status }, { limit: 200, cursor })
          rows.push(...page.items)
          cursor = page.nextCursor ?? undefined
        } while (cursor !== undefined)
        if (ctx.json) ctx.stdout.write(JSON.stringify({ deadLetters: rows }) + '\n')
        else if (rows.length === 0) ctx.stdout.write('no dead letters\n')
        else for (const r of rows) ctx.stdout.write(line(r))
        return 0
      }
      const { id } = request
      if (!(await getDeadLetter(conn.db, id))) {
        ctx.stderr.write(`dead letter ${id} not found\n`)
        return 1
      }
      try {
        const row = request.action === 'replay' ? await replay(conn.store, conn.db, id, actor()) : await discard(conn.store, conn.db, id, request.reason, actor())
        if (ctx.json) ctx.stdout.write(JSON.stringify(row) + '\n')
        else ctx.stdout.write(`${row.id}: ${row.status} by ${row.resolved_by}\n`)
        return 0
      } catch (err) {
        if (err instanceof DomainError) {
          ctx.stderr.write(`${err.message}\n`)
          return 1
        }
        throw err
      }
    } finally {
      await conn.close()
    }
  },
}
