import { randomUUID } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { STREAM_DOES_NOT_EXIST } from '@event-driven-io/emmett'
import { getPostgreSQLEventStore } from '@event-driven-io/emmett-postgresql'
import pg from 'pg'
import { PostgresEventStore } from '../src/adapters/event-store/postgres.ts'
import { createDb, migrate } from '../src/adapters/postgres/database.ts'
import type { NewEvent } from '../src/events/event-store.ts'
import { createBenchDatabase, sampleWaitEvents } from './lib/database.ts'
import { percentiles, ratios, round, type BenchOptions, type Check, type Measurement, type Scenario, type Target } from './lib/report.ts'
import { serialAppend } from './lib/serial-append.ts'

export const title = 'event store appends: ours (group commit) against the append path before it, Emmett and raw autocommit INSERTs'

/** Appends `events` to `stream`, which already holds `inStream` events, checking that expectation where the subject can. */
type Append = (writer: number, stream: string, events: NewEvent[], inStream: number) => Promise<void>

interface Subject {
  name: string
  database: string
  /** Events stored and distinct ones (by event id or by stream position), to hold against the acknowledged count. */
  count(): Promise<{ stored: number; distinct: number }>
  /** Checks of the subject's own invariants after the run. */
  verify?(): Promise<Check[]>
  append: Append
  /** Batches started and appends in them since the last call (group commit only). */
  batches?(): { batches: number; appends: number }
  close(): Promise<void>
}

const SCENARIOS = [
  { writers: 1, eventsPerAppend: 1 },
  { writers: 8, eventsPerAppend: 1 },
  { writers: 32, eventsPerAppend: 1 },
  { writers: 8, eventsPerAppend: 10 },
] as const

const SUBJECTS = ['ours', 'before', 'emmett', 'raw-insert'] as const

/**
 * For profiling one case: `BENCH_APPEND_ONLY=32x1,8x10` keeps those scenarios (writers x events per
 * append), `BENCH_APPEND_SUBJECTS=ours` those subjects.
 */
const subjectsWanted = process.env.BENCH_APPEND_SUBJECTS?.split(',').map((s) => s.trim())
const only = process.env.BENCH_APPEND_ONLY?.split(',').map((s) => s.trim())
const picked = SCENARIOS.filter((s) => !only || only.includes(`${s.writers}x${s.eventsPerAppend}`))

export async function run(options: BenchOptions) {
  const measureMs = options.tiny ? 1000 : Number(process.env.BENCH_SECONDS ?? 6) * 1000
  const rounds = options.tiny ? 1 : Number(process.env.BENCH_ROUNDS ?? 3)
  const warmupMs = options.tiny ? 100 : 1000
  // Tiny mode runs inside the test suite beside other tests: a few connections, not 32 per subject.
  const chosen = picked.map((s) => ({ ...s, writers: options.tiny ? Math.min(s.writers, 4) : s.writers }))
  const maxWriters = Math.max(...chosen.map((s) => s.writers))
  const databases: { drop: () => Promise<void> }[] = []
  const subjects = new Map<string, Subject>()
  // Emmett's driver layer sets pg's type parsers for the whole process (int8 as BigInt, json and
  // jsonb through its own deserializer); they are put back after the run, so benchmarks run later
  // in the same process (the tiny-mode test runs them all in one) read positions as strings.
  const parsers = [pg.types.builtins.INT8, pg.types.builtins.JSON, pg.types.builtins.JSONB].map((oid) => [oid, pg.types.getTypeParser(oid, 'text')] as const)
  try {
    for (const name of SUBJECTS.filter((n) => !subjectsWanted || subjectsWanted.includes(n))) {
      const database = await createBenchDatabase(options.databaseUrl, name.replace('-', '_'))
      databases.push(database)
      subjects.set(name, await openSubject(name, database.url, maxWriters))
    }
    const scenarios: Scenario[] = []
    const checks: Check[] = []
    for (const [i, s] of chosen.entries()) {
      const name = `${s.writers} writer${s.writers > 1 ? 's' : ''}, ${s.eventsPerAppend} event${s.eventsPerAppend > 1 ? 's' : ''}/append`
      // Subjects take turns, in several short rounds, so that a change in the shared machine's load
      // hits all of them alike; each subject's figure pools its rounds.
      const totals = new Map<string, { operations: number; seconds: number; latencies: number[]; stored: number; acknowledged: number; distinct: number; errors: number; firstError?: string; batches: number; batchAppends: number; waits: Record<string, number>[] }>()
      for (let r = 0; r < rounds; r++) {
        for (const subject of subjects.values()) {
          options.log(`append: ${name}: round ${r + 1}/${rounds}: ${subject.name}`)
          await sleep(300)
          const before = await subject.count()
          subject.batches?.()
          const sampler = s.writers === 32 || options.tiny ? sampleWaitEvents(options.databaseUrl, subject.database) : undefined
          const run = await drive(subject.append, s.writers, s.eventsPerAppend, warmupMs, measureMs / rounds, `s${i}r${r}`)
          const waits = await sampler?.stop()
          const after = await subject.count()
          const batches = subject.batches?.()
          const t = totals.get(subject.name) ?? { operations: 0, seconds: 0, latencies: [], stored: 0, acknowledged: 0, distinct: 0, errors: 0, batches: 0, batchAppends: 0, waits: [] }
          t.operations += run.operations
          t.seconds += run.seconds
          for (const l of run.latencies) t.latencies.push(l)
          t.stored += after.stored - before.stored
          t.distinct += after.distinct - before.distinct
          t.acknowledged += run.acknowledged
          t.errors += run.errors
          t.firstError ??= run.firstError
          t.batches += batches?.batches ?? 0
          t.batchAppends += batches?.appends ?? 0
          if (waits) t.waits.push(waits)
          totals.set(subject.name, t)
        }
      }
      const measurements: Measurement[] = []
      for (const [subject, t] of totals) {
        checks.push({
          description: `${name}, ${subject}: events stored = events acknowledged, none duplicated, no append failed`,
          ok: t.stored === t.acknowledged && t.distinct === t.stored && t.errors === 0,
          detail: `stored ${t.stored}, acknowledged ${t.acknowledged}, distinct ${t.distinct}, errors ${t.errors}${t.firstError ? ` (${t.firstError})` : ''}`,
        })
        measurements.push({
          subject,
          rate: round(t.operations / t.seconds, 0),
          operations: t.operations,
          seconds: round(t.seconds, 2),
          ...percentiles(t.latencies),
          extra: {
            rounds,
            eventsStored: t.stored,
            eventsAcknowledged: t.acknowledged,
            ...(t.batches > 0 ? { meanBatchAppends: round(t.batchAppends / t.batches, 1) } : {}),
            ...(t.waits.length > 0 ? { waitEventShares: t.waits } : {}),
          },
        })
      }
      scenarios.push({
        name,
        parameters: { writers: s.writers, eventsPerAppend: s.eventsPerAppend, newStreamEveryAppends: 10 },
        measurements,
        ratios: ratios(measurements, [
          ['ours', 'before'],
          ['ours', 'emmett'],
          ['ours', 'raw-insert'],
          ['before', 'emmett'],
        ]),
      })
    }
    for (const subject of subjects.values()) if (subject.verify) checks.push(...(await subject.verify()))
    return { title, unit: 'appends/s', scenarios, targets: targets(scenarios), checks }
  } finally {
    for (const subject of subjects.values()) await subject.close().catch(() => undefined)
    for (const database of databases) await database.drop()
    for (const [oid, parse] of parsers) pg.types.setTypeParser(oid, parse)
  }
}

function targets(scenarios: Scenario[]): Target[] {
  const ratio = (writers: number, events: number, baseline: string) =>
    scenarios.find((s) => s.parameters.writers === writers && s.parameters.eventsPerAppend === events)?.ratios.find((r) => r.subject === 'ours' && r.baseline === baseline)?.ratio ?? 0
  const p99at32 = scenarios.find((s) => s.parameters.writers === 32)?.measurements.find((m) => m.subject === 'ours')?.p99Ms ?? Infinity
  return [
    { description: `ours ≥ 1.5 × Emmett at 8 writers (${ratio(8, 1, 'emmett')})`, met: ratio(8, 1, 'emmett') >= 1.5 },
    { description: `ours ≥ 1.5 × Emmett at 32 writers (${ratio(32, 1, 'emmett')})`, met: ratio(32, 1, 'emmett') >= 1.5 },
    { description: `ours ≥ raw autocommit INSERT at 32 writers (${ratio(32, 1, 'raw-insert')})`, met: ratio(32, 1, 'raw-insert') >= 1 },
    { description: `ours at 1 writer ≥ 0.9 × the append path before group commit (${ratio(1, 1, 'before')})`, met: ratio(1, 1, 'before') >= 0.9 },
    { description: `ours p99 at 32 writers < 20 ms (${p99at32} ms)`, met: p99at32 < 20 },
  ]
}

/** Writers in closed loops, each on its own streams, a new stream every 10 appends. */
async function drive(append: Append, writers: number, eventsPerAppend: number, warmupMs: number, measureMs: number, prefix: string) {
  let phase: 'warmup' | 'measure' | 'stop' = 'warmup'
  const latencies: number[] = []
  let operations = 0
  let acknowledged = 0
  let errors = 0
  let firstError: string | undefined
  const metadata = { correlationId: randomUUID(), causationId: randomUUID(), actor: 'bench', occurredAt: new Date().toISOString() }
  const loops = Array.from({ length: writers }, async (_, writer) => {
    let stream = ''
    let inStream = 0
    for (let n = 0; phase !== 'stop'; n++) {
      if (n % 10 === 0) {
        stream = `${prefix}-${writer}-${randomUUID()}`
        inStream = 0
      }
      const events = Array.from({ length: eventsPerAppend }, (): NewEvent => ({
        id: randomUUID(),
        type: 'FundsReserved',
        data: { operationId: randomUUID(), amount: '10500000' },
        metadata,
      }))
      const measured = phase === 'measure'
      const t0 = performance.now()
      try {
        await append(writer, stream, events, inStream)
      } catch (err) {
        errors++
        firstError ??= String(err)
        // The stream's state is unknown now; the writer moves on to a new one.
        n = 9
        continue
      }
      const took = performance.now() - t0
      inStream += events.length
      acknowledged += events.length
      if (measured && phase === 'measure') {
        latencies.push(took)
        operations++
      }
    }
  })
  await sleep(warmupMs)
  phase = 'measure'
  const started = performance.now()
  await sleep(measureMs)
  phase = 'stop'
  const seconds = (performance.now() - started) / 1000
  await Promise.all(loops)
  return { latencies, operations, acknowledged, errors, firstError, seconds }
}

async function openSubject(name: (typeof SUBJECTS)[number], url: string, maxWriters: number): Promise<Subject> {
  const database = new URL(url).pathname.slice(1)
  // Idle connections close at once, so that subjects waiting for their turn hold none.
  const newPool = () => {
    const pool = new pg.Pool({ connectionString: url, max: maxWriters, idleTimeoutMillis: 100 })
    pool.on('error', () => undefined)
    return pool
  }
  return open()

  async function open(): Promise<Subject> {
    switch (name) {
      case 'ours':
      case 'before': {
        const pool = newPool()
        const db = createDb(pool)
        await migrate(db)
        let batches = 0
        let appends = 0
        const store = new PostgresEventStore(pool, {
          maxBatchesInFlight: Number(process.env.BENCH_INFLIGHT ?? 1),
          onBatch: (n) => {
            batches++
            appends += n
          },
        })
        const append: Append =
          name === 'ours'
            ? async (_, stream, events, inStream) => {
                await store.append(stream, events, { expected: inStream === 0 ? 'no_stream' : inStream - 1 })
              }
            : async (_, stream, events, inStream) => {
                await serialAppend(pool, stream, events, inStream === 0 ? 'no_stream' : inStream - 1)
              }
        return {
          name,
          database,
          append,
          count: async () => {
            const res = await pool.query<{ stored: string; distinct: string }>('SELECT count(*) AS stored, count(DISTINCT event_id) AS distinct FROM events')
            return { stored: Number(res.rows[0]!.stored), distinct: Number(res.rows[0]!.distinct) }
          },
          verify: async () => {
            const res = await pool.query<{ events: string; span: string; head: string; torn: string }>(
              `SELECT (SELECT count(*) FROM events) AS events,
                      (SELECT coalesce(max(position) - min(position) + 1, 0) FROM events) AS span,
                      (SELECT position FROM event_head) AS head,
                      (SELECT count(*) FROM (SELECT stream FROM events GROUP BY stream HAVING max(revision) + 1 <> count(*)) s) AS torn`,
            )
            const r = res.rows[0]!
            return [
              {
                description: `${name}: positions gapless (1..head) and revisions contiguous per stream`,
                ok: Number(r.events) === Number(r.span) && Number(r.events) === Number(r.head) && Number(r.torn) === 0,
                detail: `events ${r.events}, position span ${r.span}, head ${r.head}, streams with a revision gap ${r.torn}`,
              },
            ]
          },
          batches: () => {
            const result = { batches, appends }
            batches = 0
            appends = 0
            return result
          },
          close: async () => {
            await store.close()
            await db.destroy()
          },
        }
      }
      case 'emmett': {
        const pool = newPool()
        const store = getPostgreSQLEventStore(url, { connectionOptions: { pool } })
        // Creates Emmett's schema before anything is timed.
        await store.appendToStream(`warm-${randomUUID()}`, [{ type: 'Warmed', data: {} }])
        return {
          name,
          database,
          append: async (_, stream, events, inStream) => {
            await store.appendToStream(
              stream,
              events.map((e) => ({ type: e.type, data: e.data, metadata: e.metadata as unknown as Record<string, unknown> })),
              { expectedStreamVersion: inStream === 0 ? STREAM_DOES_NOT_EXIST : BigInt(inStream) },
            )
          },
          count: async () => {
            const res = await pool.query<{ stored: string; distinct: string }>(
              `SELECT count(*) AS stored, count(DISTINCT (stream_id, stream_position)) AS distinct FROM emt_messages WHERE stream_id NOT LIKE 'warm-%'`,
            )
            return { stored: Number(res.rows[0]!.stored), distinct: Number(res.rows[0]!.distinct) }
          },
          close: async () => {
            await store.close()
            await pool.end()
          },
        }
      }
      case 'raw-insert': {
        const setup = new pg.Client({ connectionString: url })
        await setup.connect()
        await setup.query(
          `CREATE TABLE raw_events (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, stream text NOT NULL, revision integer NOT NULL,
             event_id uuid NOT NULL, type text NOT NULL, data jsonb NOT NULL, metadata jsonb NOT NULL, recorded_at timestamptz NOT NULL DEFAULT now())`,
        )
        await setup.end()
        // As many connections as writers, each INSERT its own autocommit transaction: one WAL flush per append.
        const pool = newPool()
        return {
          name,
          database,
          append: async (_, stream, events, inStream) => {
            await pool.query(
              `INSERT INTO raw_events (stream, revision, event_id, type, data, metadata)
               SELECT $1, $2 + t.ord - 1, t.event_id, t.type, t.data, t.metadata
               FROM unnest($3::uuid[], $4::text[], $5::jsonb[], $6::jsonb[]) WITH ORDINALITY AS t(event_id, type, data, metadata, ord)`,
              [stream, inStream, events.map((e) => e.id), events.map((e) => e.type), events.map((e) => JSON.stringify(e.data)), events.map((e) => JSON.stringify(e.metadata))],
            )
          },
          count: async () => {
            const res = await pool.query<{ stored: string; distinct: string }>('SELECT count(*) AS stored, count(DISTINCT event_id) AS distinct FROM raw_events')
            return { stored: Number(res.rows[0]!.stored), distinct: Number(res.rows[0]!.distinct) }
          },
          close: async () => {
            await pool.end()
          },
        }
      }
    }
  }
}
