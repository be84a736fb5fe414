import { Kysely, PostgresDialect, sql } from 'kysely'
import pg from 'pg'
import t from 'tap'
import { copyText, forgetClient, registerClient, transactionClient } from '../../../src/adapters/postgres/copy.ts'
import { insertRows } from '../../../src/adapters/postgres/insert-rows.ts'
import type { Database } from '../../../src/database.ts'
import type { JsonObject } from '../../../src/events/event-store.ts'
import { testDatabase } from '../../helpers/database.ts'

const auditRow = (n: number, data: JsonObject) => ({
  position_key: `k${String(n).padStart(6, '0')}`,
  position: String(n),
  stream: 'wallet-1',
  revision: n,
  event_id: `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`,
  type: 'Something',
  data,
  metadata: { actor: 'tester', correlationId: 'c', causationId: 'c', occurredAt: '2026-11-26T12:00:00.000Z' },
  actor: n % 2 ? 'tab\there' : 'back\\slash',
  request_id: n % 3 ? null : 'line\nbreak\rreturn',
  idempotency_key: n % 5 ? '\\N' : null, // the text \N itself, not a NULL
  correlation_id: 'c',
  causation_id: 'c',
  recorded_at: n % 2 ? new Date(Date.UTC(2026, 10, 26, 12, 0, 0, n)) : `2026-11-26T12:00:00.${String(n % 1000).padStart(3, '0')}Z`,
  prev_hash: '0'.repeat(64),
  hash: 'f'.repeat(64),
})

t.test('one value in COPY text format', async (t) => {
  t.equal(copyText(null), '\\N')
  t.equal(copyText(undefined), '\\N')
  t.equal(copyText('plain'), 'plain')
  t.equal(copyText('a\\b\tc\nd\re'), 'a\\\\b\\tc\\nd\\re')
  t.equal(copyText('\\N'), '\\\\N', 'the two characters \\N stay text')
  t.equal(copyText(new Date('2026-11-26T12:34:56.789Z')), '2026-11-26T12:34:56.789Z')
  t.equal(copyText(42), '42')
  t.equal(copyText(true), 't')
  t.throws(() => copyText(Number.NaN), TypeError, 'NaN is refused, not stored')
  t.throws(() => copyText(12n), TypeError, 'a bigint is refused: numerics travel as strings')
  t.throws(() => copyText(new Date(Number.NaN)), RangeError, 'an invalid Date is refused, not a NULL')
  t.equal(copyText({ a: 'x\ny', b: ['\\'] }), '{"a":"x\\\\ny","b":["\\\\\\\\"]}', "an object as JSON, JSON's own backslashes escaped")
})

t.test('a transaction of many rows is written by COPY on its own connection, exactly as the JSON insert writes it', async (t) => {
  const { db } = await testDatabase(t)
  const nasty = { note: 'quote " backslash \\ tab \t newline \n cr \r é 🙂 \\N', nested: { list: [1, '2', null, { deep: true }] }, amount: '0.000001' }
  const rows = Array.from({ length: 120 }, (_, i) => auditRow(i, { ...nasty, i }))
  const statements: string[] = []
  await db.transaction().execute(async (trx) => {
    const client = await transactionClient(trx)
    t.ok(client, 'the transaction finds its client')
    // Spy on what goes to that connection outside Kysely: the COPY.
    const query = client!.query.bind(client) as (...args: unknown[]) => unknown
    ;(client as unknown as { query: (...args: unknown[]) => unknown }).query = (...args) => {
      const text = (args[0] as { text?: unknown }).text
      if (typeof text === 'string') statements.push(text)
      return query(...args)
    }
    await insertRows(trx, 'audit_log', rows)
    delete (client as unknown as { query?: unknown }).query // back to the prototype's
  })
  t.equal(statements.length, 1, 'one statement went to the connection outside Kysely')
  t.match(statements[0], /^COPY "audit_log" \("position_key", .*\) FROM STDIN$/, 'a COPY')
  const viaCopy = await db.selectFrom('audit_log').selectAll().orderBy('position_key').execute()
  await db.deleteFrom('audit_log').execute()
  await insertRows(db, 'audit_log', rows) // not a transaction: the JSON insert
  const viaJson = await db.selectFrom('audit_log').selectAll().orderBy('position_key').execute()
  t.equal(viaCopy.length, 120)
  t.same(viaCopy, viaJson, 'every column of every row identical on both paths')
  t.same(viaCopy[7]?.data, { ...nasty, i: 7 }, 'jsonb keeps every character')
  t.equal(viaCopy[1]?.actor, 'tab\there')
  t.equal(viaCopy[0]?.request_id, 'line\nbreak\rreturn')
  t.equal(viaCopy[1]?.idempotency_key, '\\N', 'the text \\N is not a NULL')
  t.equal(viaCopy[0]?.idempotency_key, null)
  t.equal(viaCopy[3]?.recorded_at.toISOString(), '2026-11-26T12:00:00.003Z')
})

t.test('a COPY that breaks a constraint fails its statement and the transaction writes nothing', async (t) => {
  const { db } = await testDatabase(t)
  const rows = Array.from({ length: 60 }, (_, i) => auditRow(i, {}))
  rows.push(auditRow(3, {})) // position_key k000003 again
  await t.rejects(
    db.transaction().execute((trx) => insertRows(trx, 'audit_log', rows)),
    { code: '23505' },
  )
  t.equal((await db.selectFrom('audit_log').select('position').execute()).length, 0)
  await db.transaction().execute((trx) => insertRows(trx, 'audit_log', rows.slice(0, 60)))
  t.equal((await db.selectFrom('audit_log').select('position').execute()).length, 60, 'the connection is usable afterwards')
})

t.test('where the client cannot be told for sure, the JSON insert is used', async (t) => {
  const { db, url } = await testDatabase(t)
  t.equal(await transactionClient(db), null, 'not a transaction: no client (it would be lent to others meanwhile)')
  // A pool not made by createPool: its clients are not registered.
  const plain = new pg.Pool({ connectionString: url, max: 2 })
  plain.on('error', () => undefined)
  const other = new Kysely<Database>({ dialect: new PostgresDialect({ pool: plain }) })
  await other.transaction().execute(async (trx) => {
    t.equal(await transactionClient(trx), null)
    await insertRows(trx, 'audit_log', Array.from({ length: 60 }, (_, i) => auditRow(i, { i })))
  })
  // Closed here, before the database is dropped at teardown.
  await other.destroy()
  t.equal(Number((await sql<{ n: string }>`SELECT count(*) AS n FROM audit_log`.execute(db)).rows[0]?.n), 60)
})

t.test('a backend process id that names more than one registered client is not trusted', async (t) => {
  const { db, url } = await testDatabase(t)
  const params = new URL(url)
  const pid = await db.transaction().execute(async (trx) => {
    const client = await transactionClient(trx)
    t.ok(client, 'one match: the client')
    return (client as unknown as { processID: number }).processID
  })
  // A client of another server with the same pid, database, user and port (two servers in one process).
  const twin = { processID: pid, database: params.pathname.slice(1), user: decodeURIComponent(params.username), port: Number(params.port || 5432) } as unknown as pg.PoolClient
  registerClient(twin)
  t.teardown(() => forgetClient(twin))
  await db.transaction().execute(async (trx) => {
    // Every connection of the pool may be the one with that pid; only it sees two candidates.
    const own = (await sql<{ pid: number }>`SELECT pg_backend_pid() AS pid`.execute(trx)).rows[0]!.pid
    if (own === pid) t.equal(await transactionClient(trx), null, 'two candidates: none is used')
    else t.ok(await transactionClient(trx), 'another connection: its own client')
  })
  forgetClient(twin)
  await db.transaction().execute(async (trx) => t.ok(await transactionClient(trx), 'the twin forgotten: the client again'))
})
