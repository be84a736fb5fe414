import t from 'tap'
import { sql } from 'kysely'
import { PostgresEventStore } from '../../src/adapters/event-store/postgres.ts'
import { auditHead, auditLog } from '../../src/ledger/audit.ts'
import { canonicalEvent, chainHash, GENESIS_HASH } from '../../src/ledger/canonical.ts'
import { positionKey } from '../../src/ledger/position-key.ts'
import { ledgerProjections } from '../../src/ledger/index.ts'
import { rebuildProjection } from '../../src/subscriptions/rebuild.ts'
import { testDatabase } from '../helpers/database.ts'
import { runLedger } from '../helpers/ledger.ts'
import { randomOperations } from '../helpers/random-operations.ts'

t.test('the audit log has one chained row per event with who caused it; a rebuild gives the same rows', async (t) => {
  const { db, pool } = await testDatabase(t)
  const store = new PostgresEventStore(pool, { pollIntervalMs: 50 })
  t.teardown(() => store.close())
  await randomOperations(store, { steps: 100, maxWallets: 3 })
  const { settle, ledger } = runLedger(t, store, db, { readModels: false })
  await settle()

  const events = (await store.readAll({ maxCount: 100_000 })).events
  const rows = await db.selectFrom('audit_log').selectAll().orderBy('position_key').execute()
  t.equal(rows.length, events.length, 'one row per event, of every type')
  t.same(new Set(rows.map((r) => r.type)).size, new Set(events.map((e) => e.type)).size)
  let prev = GENESIS_HASH
  events.forEach((e, i) => {
    const row = rows[i]!
    const expected = chainHash(prev, canonicalEvent(e))
    if (row.position !== e.position || row.prev_hash !== prev || row.hash !== expected) t.fail(`row ${i} does not chain`)
    if (row.actor !== e.metadata.actor || row.correlation_id !== e.metadata.correlationId || row.causation_id !== e.metadata.causationId) t.fail(`row ${i} actor fields`)
    prev = expected
  })
  t.ok(rows.some((r) => r.actor === 'process-manager') && rows.some((r) => r.actor === 'circle-webhook'), 'actors are recorded')
  t.same(await auditHead(db), { position: events.at(-1)!.position, hash: prev, recordedAt: events.at(-1)!.recordedAt }, 'the head is the last link')

  await ledger.stop()
  for (const projection of ledgerProjections) {
    const result = await rebuildProjection({ db, store, projection, swap: false })
    for (const table of projection.tables) {
      const diff = await sql<{ n: string }>`SELECT count(*)::text AS n FROM (
        (SELECT * FROM ${sql.id('public', table)} EXCEPT SELECT * FROM ${sql.id(result.schema, table)})
        UNION ALL (SELECT * FROM ${sql.id(result.schema, table)} EXCEPT SELECT * FROM ${sql.id('public', table)})) d`.execute(db)
      t.equal(diff.rows[0]!.n, '0', `${projection.name}: rebuilt ${table} equals the live one`)
    }
    await sql`DROP SCHEMA ${sql.id(result.schema)} CASCADE`.execute(db)
  }
})

t.test('a batch larger than a chunk is hashed and inserted chunk by chunk as one unbroken chain', async (t) => {
  const { db, pool } = await testDatabase(t)
  const events = await storedEvents(pool, 400)
  // Two batches, the first of 1,100 events (two chunks), as a rebuild or a catching-up runner hands them.
  for (const batch of [events.slice(0, 1100), events.slice(1100)]) await db.transaction().execute((trx) => auditLog.handle(trx, batch as never))
  const rows = await db.selectFrom('audit_log').select(['position', 'prev_hash', 'hash']).orderBy('position_key').execute()
  t.equal(rows.length, 1200)
  t.equal(firstBrokenLink(rows, events), -1, 'every row chains to the one before, across chunks and batches')
})

/** Appends 3 streams of `perStream` events to a PostgreSQL store and reads them back. */
async function storedEvents(pool: ConstructorParameters<typeof PostgresEventStore>[0], perStream: number) {
  const store = new PostgresEventStore(pool)
  const metadata = { correlationId: 'c', causationId: 'c', actor: 'tester', requestId: 'r-1', occurredAt: '2026-11-26T12:00:00.000Z' }
  try {
    for (let s = 0; s < 3; s++) {
      const events = Array.from({ length: perStream }, (_, i) => ({ id: crypto.randomUUID(), type: 'DepositAddressRequested', data: { walletId: `w-${s}`, addressId: `a-${i}`, chain: 'ETH', note: 'tab\there "quoted" \\ é' }, metadata }))
      await store.append(`wallet-w-${s}`, events, { expected: 'no_stream' })
    }
    return (await store.readAll({ maxCount: 10_000 })).events
  } finally {
    await store.close()
  }
}

const auditRows = (db: Awaited<ReturnType<typeof testDatabase>>['db']) => db.selectFrom('audit_log').selectAll().orderBy('position_key').execute()

/** The index of the first row that is not the given event's link of the chain from genesis, or -1. */
function firstBrokenLink(rows: { position: string; prev_hash: string; hash: string }[], events: Parameters<typeof canonicalEvent>[0][]): number {
  let prev = GENESIS_HASH
  for (const [i, e] of events.entries()) {
    const expected = chainHash(prev, canonicalEvent(e))
    if (rows[i]?.position !== e.position || rows[i]?.prev_hash !== prev || rows[i]?.hash !== expected) return i
    prev = expected
  }
  return -1
}

/** Every audit row's recorded time equals its event's in the events table to the microsecond (the events given carry milliseconds), and how many rows. */
async function takenFromEventsTable(db: Awaited<ReturnType<typeof testDatabase>>['db']) {
  const result = await sql<{ same: boolean; n: string }>`
    SELECT bool_and(a.recorded_at = e.recorded_at) AS same, count(*)::text AS n
    FROM audit_log a JOIN events e ON e.position::text = a.position`.execute(db)
  return result.rows[0]!
}

t.test('rows are taken from the events table when the events are there, and written from the events given when not: the same rows', async (t) => {
  const here = await testDatabase(t)
  const elsewhere = await testDatabase(t)
  const events = await storedEvents(here.pool, 400)
  // The same batches into both: `here` has the events in its events table, `elsewhere` has none (as beside another store).
  for (const { db } of [here, elsewhere]) {
    for (const batch of [events.slice(0, 1100), events.slice(1100)]) await db.transaction().execute((trx) => auditLog.handle(trx, batch as never))
  }
  const fromTable = await auditRows(here.db)
  const given = await auditRows(elsewhere.db)
  t.equal(fromTable.length, 1200)
  t.equal(given.length, 1200)
  // The events table keeps microseconds, the events given carry milliseconds: the same instant as the chain has it.
  const comparable = (rows: typeof given) => rows.map((r) => ({ ...r, recorded_at: r.recorded_at.toISOString() }))
  t.same(comparable(fromTable), comparable(given), 'every column the same, hashes included')
  t.same(fromTable[5]!.data, events[5]!.data, 'the data is the event data')
  t.equal(fromTable[5]!.request_id, 'r-1')
  t.equal(fromTable[5]!.recorded_at.toISOString(), events[5]!.recordedAt)
  const stored = await sql<{ same: boolean }>`
    SELECT bool_and(a.recorded_at = e.recorded_at AND a.data = e.data AND a.metadata = e.metadata) AS same
    FROM audit_log a JOIN events e ON e.position::text = a.position`.execute(here.db)
  t.equal(stored.rows[0]!.same, true, 'from the events table, the row holds the stored event exactly (to the microsecond)')
})

t.test('a batch whose positions skip events of the table is written run by run: the same rows as from the events given', async (t) => {
  const here = await testDatabase(t)
  const elsewhere = await testDatabase(t)
  const events = await storedEvents(here.pool, 600)
  // Runs of one and of two events, then longer runs; the first batch is two chunks.
  const gappy = events.filter((_, i) => (i < 900 ? i % 3 !== 1 : i % 5 !== 0))
  for (const { db } of [here, elsewhere]) {
    for (const batch of [gappy.slice(0, 1100), gappy.slice(1100)]) await db.transaction().execute((trx) => auditLog.handle(trx, batch as never))
  }
  const fromTable = await auditRows(here.db)
  const given = await auditRows(elsewhere.db)
  t.equal(fromTable.length, gappy.length, 'one row per event given, none for those skipped')
  const comparable = (rows: typeof given) => rows.map((r) => ({ ...r, recorded_at: r.recorded_at.toISOString() }))
  t.same(comparable(fromTable), comparable(given), 'every column the same, hashes included')
  t.equal(firstBrokenLink(fromTable, gappy), -1, 'the chain runs across the gaps')
  t.same(await takenFromEventsTable(here.db), { same: true, n: String(gappy.length) }, 'taken from the events table, not written from the events given')
})

t.test('positions of 18 digits: the key, the range and the offsets in it', async (t) => {
  const { db, pool } = await testDatabase(t)
  // The store numbers events from its head: start it near the largest position the events-table path takes.
  await sql`UPDATE event_head SET position = 999999999999998990`.execute(db)
  const events = await storedEvents(pool, 5)
  t.equal(events.at(-1)!.position, '999999999999999005')
  await db.transaction().execute((trx) => auditLog.handle(trx, events as never))
  const rows = await auditRows(db)
  t.same(rows.map((r) => [r.position, r.position_key]), events.map((e) => [e.position, positionKey(e.position)]), 'every position and its key')
  t.equal(firstBrokenLink(rows, events), -1, 'one unbroken chain')
  t.same(await takenFromEventsTable(db), { same: true, n: String(events.length) }, 'taken from the events table')
})

t.test('a batch only partly in the events table fails whole, and positions that are not the store\'s go the other way', async (t) => {
  const { db, pool } = await testDatabase(t)
  const events = await storedEvents(pool, 400)
  const foreign = { ...events[700]!, id: crypto.randomUUID() }
  // In the first chunk, and in a later chunk after the first was found; and in the middle of a run
  // of consecutive positions, where only its id tells it from the event there.
  const impostor = { ...events[5]!, id: crypto.randomUUID() }
  for (const batch of [[events[0]!, foreign, events[1]!], [...events.slice(0, 1000), foreign], [...events.slice(0, 5), impostor, ...events.slice(6, 10)]]) {
    await t.rejects(
      db.transaction().execute((trx) => auditLog.handle(trx, batch as never)),
      /audit log: \d+ of \d+ events at positions .* found in the events table/,
    )
    t.equal((await auditRows(db)).length, 0, 'nothing written')
  }
  // KurrentDB's positions (commit/prepare) are never looked for in the events table.
  const kurrent = events.slice(0, 3).map((e, i) => ({ ...e, position: `${1000 + i}/${1000 + i}` }))
  await db.transaction().execute((trx) => auditLog.handle(trx, kurrent as never))
  const rows = await auditRows(db)
  t.same(rows.map((r) => r.position), ['1000/1000', '1001/1001', '1002/1002'])
  t.equal(rows[2]!.hash, chainHash(rows[1]!.hash, canonicalEvent(kurrent[2]!)))
})
