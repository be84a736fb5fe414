import { randomUUID } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import pg from 'pg'
import t from 'tap'
import { PostgresEventStore } from '../../../src/adapters/event-store/postgres.ts'
import { EventStoreUnavailable } from '../../../src/events/event-store.ts'
import { testDatabase } from '../../helpers/database.ts'
import { eventStoreContract } from '../../helpers/event-store-contract.ts'
import { newEvent, testMetadata } from '../../helpers/events.ts'

const { pool, url } = await testDatabase(t)
const store = new PostgresEventStore(pool, { pollIntervalMs: 200, scanWindow: 4 })
t.teardown(() => store.close())

await eventStoreContract(t, store)

t.test('an append transaction held open keeps later commits from being read before it', async (t) => {
  const start = await store.head()
  const held = new pg.Client({ connectionString: url })
  await held.connect()
  t.teardown(() => held.end())
  // Stand in for a slow appender: it has taken the head and written its event, but not committed.
  await held.query('BEGIN')
  const heldId = randomUUID()
  await held.query(
    `WITH h AS (UPDATE event_head SET position = position + 1 WHERE id RETURNING position)
     INSERT INTO events (position, stream, revision, event_id, type, data, metadata)
     SELECT h.position, 'held-1', 0, $1, 'Held', '{}', $2 FROM h`,
    [heldId, JSON.stringify(testMetadata())],
  )
  await held.query(`INSERT INTO streams VALUES ('held-1', 0)`)
  const later = newEvent('Later')
  let laterDone = false
  const appending = store.append(`later-${randomUUID()}`, [later], { expected: 'no_stream' }).then((r) => {
    laterDone = true
    return r
  })
  await sleep(300)
  t.notOk(laterDone, 'the later append waits for the head lock')
  t.same((await store.readAll({ after: start })).events, [], 'a reader sees nothing past the open transaction')
  await held.query('COMMIT')
  await appending
  const after = await store.readAll({ after: start })
  t.same(after.events.map((e) => e.id), [heldId, later.id], 'both arrive, in commit order, none skipped')
  t.equal(store.distance(after.events[0]!.position, after.events[1]!.position), 1, 'positions stay gapless')
})

t.test('a rolled back append leaves no gap in positions', async (t) => {
  const start = await store.head()
  const client = await pool.connect()
  await client.query('BEGIN')
  await client.query('UPDATE event_head SET position = position + 5 WHERE id')
  await client.query('ROLLBACK')
  client.release()
  const r = await store.append(`gap-${randomUUID()}`, [newEvent()], { expected: 'no_stream' })
  t.equal(store.distance(start, r.position), 1)
})

t.test('events are immutable', async (t) => {
  const s = `immutable-${randomUUID()}`
  await store.append(s, [newEvent()], { expected: 'no_stream' })
  await t.rejects(pool.query(`UPDATE events SET type = 'Changed' WHERE stream = $1`, [s]), /immutable/)
  await t.rejects(pool.query(`DELETE FROM events WHERE stream = $1`, [s]), /immutable/)
  await t.rejects(pool.query(`TRUNCATE events`), /immutable/)
  t.equal((await store.readStream(s))[0]?.type, 'Tested')
})

t.test('an unreachable database surfaces as EventStoreUnavailable', async (t) => {
  const deadPool = new pg.Pool({ connectionString: 'postgres://postgres@127.0.0.1:1/none', connectionTimeoutMillis: 500 })
  deadPool.on('error', () => undefined)
  const dead = new PostgresEventStore(deadPool)
  t.teardown(async () => {
    await dead.close()
    await deadPool.end()
  })
  await t.rejects(dead.append('x-1', [newEvent()], { expected: 'any' }), EventStoreUnavailable)
  await t.rejects(dead.head(), EventStoreUnavailable)
})
