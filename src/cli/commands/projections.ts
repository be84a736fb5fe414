import { ledgerProjections } from '../../ledger/index.ts'
import { readModels } from '../../projections/index.ts'
import { readCheckpoint } from '../../subscriptions/checkpoints.ts'
import { checkpointName } from '../../subscriptions/projection.ts'
import { NothingToRebuild, rebuildProjection } from '../../subscriptions/rebuild.ts'
import { UsageError, type CliCommand } from '../context.ts'
import { noArguments } from '../options.ts'
import { progressBar } from '../progress.ts'

export const projections: CliCommand = {
  summary: 'read models: status (version, checkpoint, lag) or rebuild from position 0 and swap',
  usage: 'projections status | projections rebuild <name>|--all',
  async run(args, ctx) {
    const [action, ...rest] = args
    if (action !== 'status' && action !== 'rebuild') throw new UsageError(`expected status or rebuild, got ${action ?? 'nothing'}`)
    if (action === 'status') noArguments(rest)
    // The journal and the audit log run on their own subscribers but rebuild the same way.
    const all = [...readModels, ...ledgerProjections]
    const names = all.map((p) => p.name)
    const chosen = action === 'status' || rest.includes('--all') ? all : all.filter((p) => rest.includes(p.name))
    if (action === 'rebuild' && (chosen.length === 0 || rest.some((r) => r !== '--all' && !names.includes(r)))) {
      throw new UsageError(`name a projection (${names.join(', ')}) or --all`)
    }
    const conn = await ctx.connect()
    try {
      if (action === 'status') {
        const head = await conn.store.head()
        const rows = []
        for (const p of all) {
          const checkpoint = await readCheckpoint(conn.db, checkpointName(p))
          rows.push({ name: p.name, version: p.version, checkpoint: checkpoint ?? null, lag: conn.store.distance(checkpoint, head) ?? null })
        }
        if (ctx.json) ctx.stdout.write(JSON.stringify({ head: head ?? null, projections: rows }) + '\n')
        else {
          ctx.stdout.write(`event store head: ${head ?? '(empty)'}\n`)
          for (const r of rows) ctx.stdout.write(`${r.name.padEnd(20)} v${r.version}  checkpoint ${String(r.checkpoint ?? '-').padStart(10)}  lag ${r.lag ?? '?'}\n`)
        }
        return 0
      }
      const results = []
      for (const projection of chosen) {
        const bar = ctx.json ? undefined : progressBar(`rebuild ${projection.name}`, ctx.stderr)
        const started = performance.now()
        try {
          const result = await rebuildProjection({
            db: conn.db,
            pool: conn.pool,
            store: conn.store,
            projection,
            onProgress: (p) => bar?.update(p.scanned ?? p.applied, p.total, {}),
          })
          const seconds = (performance.now() - started) / 1000
          results.push({ name: projection.name, version: projection.version, events: result.applied, position: result.position ?? null, seconds: Math.round(seconds * 100) / 100, swapped: result.swapped ?? null })
        } catch (err) {
          // One projection failing (another rebuild holds it, say) does not hide what was done
          // before it or stop the ones after: each is reported, and the command exits 1.
          if (err instanceof NothingToRebuild) results.push({ name: projection.name, version: projection.version, skipped: err.message })
          else results.push({ name: projection.name, version: projection.version, failed: err instanceof Error ? err.message : String(err) })
        } finally {
          bar?.stop()
        }
      }
      if (ctx.json) ctx.stdout.write(JSON.stringify({ rebuilt: results }) + '\n')
      else
        for (const r of results)
          ctx.stdout.write(
            'skipped' in r
              ? `${r.name}: skipped: ${r.skipped}\n`
              : 'failed' in r
                ? `${r.name}: failed, left as it was: ${r.failed}\n`
                : `${r.name} v${r.version}: ${r.events} events to position ${r.position ?? '-'} in ${r.seconds} s, swapped in (${r.swapped === 'copied' ? 'rows copied into the live tables' : 'tables replaced'})\n`,
          )
      return results.some((r) => 'failed' in r) ? 1 : 0
    } finally {
      await conn.close()
    }
  },
}
