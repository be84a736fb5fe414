import { randomUUID } from 'node:crypto'
import { mkdir, writeFile } from 'node:fs/promises'
import pg from 'pg'
import { PostgresEventStore } from '../src/adapters/event-store/postgres.ts'
import { createDb, createPool, ensureDatabase, migrate } from '../src/adapters/postgres/database.ts'

/** Single-event appends per second against the Postgres store, at several concurrency levels. */
const base = new URL(process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/circle_ledger')
const name = `circle_ledger_bench_${process.pid}`
base.pathname = `/${name}`
const seconds = Number(process.env.BENCH_SECONDS ?? 5)

await ensureDatabase(base.toString())
const pool = createPool(base.toString(), 20)
const db = createDb(pool)
await migrate(db)
const store = new PostgresEventStore(pool)

const metadata = { correlationId: randomUUID(), causationId: randomUUID(), actor: 'bench', occurredAt: new Date().toISOString() }
const results: { writers: number; appends: number; seconds: number; appendsPerSecond: number; p50ms: number; p99ms: number }[] = []
for (const writers of [1, 8]) {
  const latencies: number[] = []
  const deadline = performance.now() + seconds * 1000
  const started = performance.now()
  await Promise.all(
    Array.from({ length: writers }, async () => {
      const stream = `bench-${randomUUID()}`
      let revision = -1
      while (performance.now() < deadline) {
        const t0 = performance.now()
        const r = await store.append(stream, [{ id: randomUUID(), type: 'Benchmarked', data: { amount: '1000000' }, metadata }], {
          expected: revision === -1 ? 'no_stream' : revision,
        })
        latencies.push(performance.now() - t0)
        revision = r.revision
      }
    }),
  )
  const elapsed = (performance.now() - started) / 1000
  latencies.sort((a, b) => a - b)
  const pct = (p: number) => Math.round(latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))]! * 100) / 100
  results.push({ writers, appends: latencies.length, seconds: Math.round(elapsed * 100) / 100, appendsPerSecond: Math.round(latencies.length / elapsed), p50ms: pct(0.5), p99ms: pct(0.99) })
}
await store.close()
await db.destroy()
const admin = new URL(base)
admin.pathname = '/postgres'
const client = new pg.Client({ connectionString: admin.toString() })
await client.connect()
await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
await client.end()

const report = { benchmark: 'event-store append (postgres, single-event appends)', at: new Date().toISOString(), results }
await mkdir(new URL('./results/', import.meta.url), { recursive: true })
await writeFile(new URL('./results/append.json', import.meta.url), JSON.stringify(report, null, 2) + '\n')
console.table(results)
