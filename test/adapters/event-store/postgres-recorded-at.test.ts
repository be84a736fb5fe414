import t from 'tap'
import { PostgresEventStore, recordedAt } from '../../../src/adapters/event-store/postgres.ts'
import { testDatabase } from '../../helpers/database.ts'
import { newEvent } from '../../helpers/events.ts'

// The store's reads write recorded_at in SQL, as Date#toISOString would: the audit log's hash chain
// covers that text, and its verification reads the audit rows' recorded_at as a Date.
const { pool } = await testDatabase(t)

t.test("PostgreSQL's text equals a Date's toISOString for any year from 1 to 9999, to the microsecond", async (t) => {
  const edges = [
    '0001-01-01 00:00:00+00',
    '0099-12-31 23:59:59.999999+00',
    '0999-06-15 12:00:00.0005+00',
    '1900-02-28 23:59:59.9999+00',
    '1969-12-31 23:59:59.999999+00',
    '1970-01-01 00:00:00+00',
    '2000-02-29 12:00:00.000999+00',
    '2026-11-27 19:03:17.123456+00',
    '2026-11-27 19:03:17.001+00',
    '2026-11-27 19:03:17.000001+00',
    '9999-12-31 23:59:59.999999+00',
  ]
  // In a session whose time zone is not UTC (+12:45 or +13:45), so that the text must be converted to UTC.
  const client = await pool.connect()
  t.teardown(() => client.release())
  await client.query('BEGIN')
  await client.query("SET LOCAL TimeZone = 'Pacific/Chatham'")
  const { rows } = await client.query<{ d: Date; recorded_at: string }>(
    `SELECT x.recorded_at AS d, ${recordedAt('x')}
     FROM (SELECT unnest($1::timestamptz[]) AS recorded_at
           UNION ALL SELECT timestamptz '0001-01-01 00:00:00+00' + (random() * 9998 * 365.2425) * interval '1 day' FROM generate_series(1, 20000)
           UNION ALL SELECT now() + (random() - 0.5) * interval '100 days' FROM generate_series(1, 20000)) x`,
    [edges],
  )
  await client.query('COMMIT')
  t.equal(rows.length, edges.length + 40000)
  const differ = rows.filter((r) => r.d.toISOString() !== r.recorded_at)
  t.same(differ.slice(0, 5).map((r) => [r.d.toISOString(), r.recorded_at]), [], 'no timestamp written differently')
  t.equal(differ.length, 0)
})

t.test("every read of the store gives an event's recorded_at as the stored timestamp's toISOString", async (t) => {
  const store = new PostgresEventStore(pool, { pollIntervalMs: 200 })
  t.teardown(() => store.close())
  const event = newEvent()
  const stream = `recorded-at-${event.id}`
  await store.append(stream, [event], { expected: 'no_stream' })
  const stored = (await pool.query<{ recorded_at: Date; position: string }>('SELECT recorded_at, position FROM events WHERE event_id = $1', [event.id])).rows[0]!
  const want = stored.recorded_at.toISOString()
  const after = String(BigInt(stored.position) - 1n)
  t.equal((await store.readStream(stream))[0]!.recordedAt, want, 'readStream')
  t.equal((await store.readStreams([{ stream, fromRevision: 0 }], 10))[0]![0]!.recordedAt, want, 'readStreams')
  t.equal((await store.readAll({ after, maxCount: 1 })).events[0]!.recordedAt, want, 'readAll')
  t.equal((await store.readAll({ after, maxCount: 1, filter: { types: [event.type] } })).events[0]!.recordedAt, want, 'readAll, filtered')
})

t.test('a recorded_at with no ISO form (infinity, which no append writes) fails the read loudly', async (t) => {
  const store = new PostgresEventStore(pool, { pollIntervalMs: 200 })
  t.teardown(() => store.close())
  const event = newEvent()
  await pool.query(
    `INSERT INTO events (position, stream, revision, event_id, type, data, metadata, recorded_at)
     VALUES (1000000000000, $1, 0, $2, $3, '{}', '{}', 'infinity')`,
    [`infinite-${event.id}`, event.id, event.type],
  )
  await t.rejects(store.readAll({ after: '999999999999', maxCount: 1 }), /recorded_at has no ISO form/)
})
