import { once } from 'node:events'
import type { EventStore, RecordedEvent } from '../../events/event-store.ts'
import { positionKey } from '../../ledger/position-key.ts'
import { UsageError, type CliCommand } from '../context.ts'
import { orderedRange, parseOptions, positionOption } from '../options.ts'
import { progressBar } from '../progress.ts'

const PAGE = 1000

/** The fields of an event as the audit chain covers them (see the README). */
const line = (e: RecordedEvent) =>
  `${JSON.stringify({ position: e.position, stream: e.stream, revision: e.revision, id: e.id, type: e.type, data: e.data, metadata: e.metadata, recordedAt: e.recordedAt })}\n`

/** Pages of events, one at a time, so memory stays flat however long the log. */
async function* pages(store: EventStore, options: { stream?: string | undefined; after?: string | undefined; until?: string | undefined }): AsyncGenerator<RecordedEvent[]> {
  if (options.stream !== undefined) {
    let from = 0
    for (;;) {
      const events = await store.readStream(options.stream, { fromRevision: from, maxCount: PAGE })
      if (events.length > 0) yield events
      const last = events.at(-1)
      if (last === undefined || events.length < PAGE) return
      from = last.revision + 1
    }
  }
  const until = options.until === undefined ? undefined : positionKey(options.until)
  let after = options.after === '0' ? undefined : options.after
  for (;;) {
    const page = await store.readAll({ after, maxCount: PAGE })
    const events = until === undefined ? page.events : page.events.filter((e) => positionKey(e.position) <= until)
    if (events.length > 0) yield events
    const last = events.at(-1)
    if (last === undefined || page.events.length < PAGE || events.length < page.events.length) return
    after = last.position
  }
}

export const replay: CliCommand = {
  summary: 'NDJSON of events to stdout (one stream, or the log after a position), streamed',
  usage: 'replay --stream <name> | replay --after <position> [--until <position>]',
  async run(args, ctx) {
    const opts = parseOptions(args, ['stream', 'after', 'until'] as const)
    const after = positionOption(opts.after, 'after', ctx.config.EVENT_STORE)
    const until = positionOption(opts.until, 'until', ctx.config.EVENT_STORE)
    orderedRange({ name: 'after', value: after }, { name: 'until', value: until })
    if (opts.stream === '') throw new UsageError('--stream needs a stream name, such as wallet-<id>')
    if ((opts.stream === undefined) === (after === undefined)) throw new UsageError('give either --stream or --after')
    if (opts.stream !== undefined && until !== undefined) throw new UsageError('--until goes with --after')
    const conn = await ctx.connect()
    const started = performance.now()
    let count = 0
    let last: string | undefined
    const bar = ctx.json ? undefined : progressBar(opts.stream !== undefined ? `replay ${opts.stream}` : 'replay', ctx.stderr)
    try {
      const end = opts.stream === undefined ? (until ?? (await conn.store.head())) : undefined
      const total = opts.stream === undefined ? conn.store.distance(after === '0' ? undefined : after, end) : undefined
      for await (const events of pages(conn.store, { stream: opts.stream, after, until })) {
        let chunk = ''
        for (const e of events) chunk += line(e)
        // Wait for stdout to drain: a slow reader slows the replay instead of filling memory.
        if (!ctx.stdout.write(chunk)) await once(ctx.stdout, 'drain')
        count += events.length
        last = events.at(-1)?.position ?? last
        bar?.update(count, total)
      }
    } finally {
      bar?.stop()
      await conn.close()
    }
    const seconds = (performance.now() - started) / 1000
    const summary = { events: count, lastPosition: last ?? null, seconds: Math.round(seconds * 1000) / 1000, eventsPerSecond: Math.round(count / Math.max(seconds, 0.001)) }
    ctx.stderr.write(ctx.json ? `${JSON.stringify(summary)}\n` : `replayed ${count} events${last ? ` up to position ${last}` : ''} in ${summary.seconds} s (${summary.eventsPerSecond} events/s)\n`)
    return 0
  },
}
