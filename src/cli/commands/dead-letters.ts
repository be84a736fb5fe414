import { userInfo } from 'node:os'
import { DomainError } from '../../commands/errors.ts'
import { discard, getDeadLetter, listDeadLetters, replay, type DeadLetterRow } from '../../dead-letters/dead-letters.ts'
import { UsageError, type CliCommand } from '../context.ts'

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

/** CLI actions have no API key: the audit log names the operating-system user instead. */
const actor = () => `admin:cli:${userInfo().username}`

function option(args: string[], name: string): string | undefined {
  const i = args.indexOf(name)
  if (i === -1) return undefined
  const value = args[i + 1]
  if (value === undefined || value.startsWith('--')) throw new UsageError(`${name} needs a value`)
  return value
}

const line = (r: DeadLetterRow) =>
  `${r.id}  ${r.kind.padEnd(7)} ${r.status.padEnd(9)} ${r.detail.padEnd(10)} ${r.subject}  attempts ${r.attempts}${r.attention ? `  attention ${r.attention}` : ''}\n    ${r.error}\n`

export const deadLetters: CliCommand = {
  summary: 'work that kept failing (webhooks, process-manager tasks): list, replay, or discard with a reason',
  usage: 'dead-letters list [--kind webhook|task] [--status open|replayed|discarded] | replay <id> | discard <id> --reason <text>',
  async run(args, ctx) {
    const [action, ...rest] = args
    if (action !== 'list' && action !== 'replay' && action !== 'discard') throw new UsageError(`expected list, replay or discard, got ${action ?? 'nothing'}`)
    let id: string | undefined
    let reason: string | undefined
    let kind: 'webhook' | 'task' | undefined
    let status: 'open' | 'replayed' | 'discarded' | undefined
    if (action === 'list') {
      const k = option(rest, '--kind')
      if (k !== undefined && k !== 'webhook' && k !== 'task') throw new UsageError('--kind is webhook or task')
      kind = k
      const s = option(rest, '--status')
      if (s !== undefined && s !== 'open' && s !== 'replayed' && s !== 'discarded') throw new UsageError('--status is open, replayed or discarded')
      status = s
    } else {
      id = rest[0]
      if (id === undefined || !UUID.test(id)) throw new UsageError('name the dead letter by its id (a UUID)')
      if (action === 'discard') {
        reason = option(rest, '--reason')?.trim()
        if (!reason) throw new UsageError('discard needs --reason <text>')
      }
    }
    const conn = await ctx.connect()
    try {
      if (action === 'list') {
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
      if (!(await getDeadLetter(conn.db, id!))) {
        ctx.stderr.write(`dead letter ${id} not found\n`)
        return 1
      }
      try {
        const row = action === 'replay' ? await replay(conn.store, conn.db, id!, actor()) : await discard(conn.store, conn.db, id!, reason!, actor())
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
