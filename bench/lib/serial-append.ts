import type pg from 'pg'
import { WrongExpectedVersion, type AppendResult, type ExpectedRevision, type NewEvent } from '../../src/events/event-store.ts'

/**
 * The Postgres store's append path before group commit, kept only as the benchmark's baseline:
 * one transaction per append (stream row upsert, head update + insert, COMMIT), so every append
 * holds the head lock across its own COMMIT and WAL flush. Single-stream, no replay handling.
 */
export async function serialAppend(pool: pg.Pool, stream: string, events: NewEvent[], expected: ExpectedRevision): Promise<AppendResult> {
  const client = await pool.connect()
  try {
    await client.query('BEGIN')
    const n = events.length
    const res = await client.query<{ revision: number }>(
      `INSERT INTO streams (stream, revision) VALUES ($1, $2 - 1)
       ON CONFLICT (stream) DO UPDATE SET revision = streams.revision + $2
       RETURNING revision`,
      [stream, n],
    )
    const actual = res.rows[0]!.revision - n
    const ok = expected === 'any' || (expected === 'no_stream' && actual === -1) || (expected === 'stream_exists' && actual >= 0) || expected === actual
    if (!ok) {
      await client.query('ROLLBACK')
      throw new WrongExpectedVersion(stream, expected, actual)
    }
    // The statement as it was, row arrays and all.
    const inserted = await client.query<{ position: string }>(
      `WITH h AS (UPDATE event_head SET position = position + $1 WHERE id RETURNING position)
       INSERT INTO events (position, stream, revision, event_id, type, data, metadata)
       SELECT h.position - $1 + t.ord, t.stream, t.revision, t.event_id, t.type, t.data, t.metadata
       FROM h, unnest($2::text[], $3::int[], $4::uuid[], $5::text[], $6::jsonb[], $7::jsonb[])
            WITH ORDINALITY AS t(stream, revision, event_id, type, data, metadata, ord)
       RETURNING position, stream, revision`,
      [
        n,
        events.map(() => stream),
        events.map((_, i) => actual + 1 + i),
        events.map((e) => e.id),
        events.map((e) => e.type),
        events.map((e) => JSON.stringify(e.data)),
        events.map((e) => JSON.stringify(e.metadata)),
      ],
    )
    await client.query('COMMIT')
    return { stream, revision: actual + n, position: inserted.rows.at(-1)!.position }
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined)
    throw err
  } finally {
    client.release()
  }
}
