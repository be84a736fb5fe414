import { sql } from 'kysely'
import t from 'tap'
import { insertRowChunks, insertRows } from '../../../src/adapters/postgres/insert-rows.ts'
import { testDatabase } from '../../helpers/database.ts'

const operation = (id: string, amount: string) => ({ operation_id: id, kind: 'transfer' as const, wallet_id: 'w-1', amount, counterparty: 'chain:SOL' })

t.test('rows arrive exactly: numerics as decimal strings, jsonb as objects, timestamps from Date or ISO string, nulls', async (t) => {
  const { db } = await testDatabase(t)
  const huge = '12345678901234567890123456789012345678' // 38 digits: a JS number would lose it
  await insertRows(db, 'journal_operations', [operation('op-1', huge), operation('op-2', '1')])
  t.same(
    await db.selectFrom('journal_operations').select(['operation_id', 'amount']).orderBy('operation_id').execute(),
    [
      { operation_id: 'op-1', amount: huge },
      { operation_id: 'op-2', amount: '1' },
    ],
  )

  const data = { note: 'quote " backslash \\ tab \t newline \n é 🙂', nested: { list: [1, '2', null, { deep: true }] }, amount: '0.000001' }
  const metadata = { actor: 'tester', correlationId: 'c', causationId: 'c', occurredAt: '2026-11-26T12:00:00.000Z' }
  const row = (n: number, recorded: Date | string) => ({
    position_key: `k${n}`,
    position: String(n),
    stream: 'wallet-1',
    revision: n,
    event_id: `00000000-0000-4000-8000-00000000000${n}`,
    type: 'Something',
    data,
    metadata,
    actor: 'tester',
    request_id: null,
    idempotency_key: null,
    correlation_id: 'c',
    causation_id: 'c',
    recorded_at: recorded,
    prev_hash: '0'.repeat(64),
    hash: String(n).repeat(64),
  })
  const at = new Date('2026-11-26T12:34:56.789Z')
  await insertRows(db, 'audit_log', [row(1, at), row(2, '2026-11-26T12:34:56.790Z')])
  const back = await db.selectFrom('audit_log').selectAll().orderBy('position_key').execute()
  t.same(back[0]?.data, data, 'a jsonb column keeps the object, every character and type included')
  t.same(back[0]?.metadata, metadata)
  t.equal(back[0]?.request_id, null)
  t.equal(back[0]?.recorded_at.toISOString(), at.toISOString(), 'a Date keeps its milliseconds')
  t.equal(back[1]?.recorded_at.toISOString(), '2026-11-26T12:34:56.790Z', 'an ISO string too')
})

t.test('a unique conflict fails the statement unless asked to skip it, and nothing of a failed statement is written', async (t) => {
  const { db } = await testDatabase(t)
  await insertRows(db, 'journal_operations', [operation('op-1', '5')])
  await t.rejects(insertRows(db, 'journal_operations', [operation('op-2', '6'), operation('op-1', '7')]), /duplicate key/)
  t.same(await db.selectFrom('journal_operations').select(['operation_id', 'amount']).execute(), [{ operation_id: 'op-1', amount: '5' }])
  await insertRows(db, 'journal_operations', [operation('op-2', '6'), operation('op-1', '7')], { skipConflictsOn: ['operation_id'] })
  t.same(
    await db.selectFrom('journal_operations').select(['operation_id', 'amount']).orderBy('operation_id').execute(),
    [
      { operation_id: 'op-1', amount: '5' },
      { operation_id: 'op-2', amount: '6' },
    ],
    'the conflicting row is left out, the rest written',
  )
  await insertRows(db, 'journal_operations', [])
  t.equal((await db.selectFrom('journal_operations').select('operation_id').execute()).length, 2, 'no rows: nothing written, nothing thrown')
  const { operation_id: _dropped, ...missingKey } = operation('op-3', '8')
  await t.rejects(
    insertRows(db, 'journal_operations', [operation('op-4', '9'), missingKey as ReturnType<typeof operation>]),
    /every row must name the same 5 columns/,
    'a row missing a column is refused, not written with a NULL',
  )
  t.equal((await db.selectFrom('journal_operations').select('operation_id').execute()).length, 2, 'and nothing of that call is written')
})

t.test('a conflict on the named key updates the named columns of the row there, and only those', async (t) => {
  const { db } = await testDatabase(t)
  const account = (name: string, balance: string, postings: string, last: string) => ({ account: name, wallet_id: 'w-1', balance, postings, last_position_key: last })
  await insertRows(db, 'journal_accounts', [account('available:w-1', '5', '1', 'k1'), account('held:w-1', '0', '1', 'k1')])
  const update = { updateOnConflict: { target: ['account'], set: ['balance', 'postings', 'last_position_key'] } } as const
  const huge = '99999999999999999999999999999999999999'
  await insertRows(db, 'journal_accounts', [{ ...account('available:w-1', huge, '2', 'k2'), wallet_id: 'not-updated' }, account('chain:SOL', '-5', '1', 'k2')], update)
  t.same(
    await db.selectFrom('journal_accounts').selectAll().orderBy('account').execute(),
    [
      { account: 'available:w-1', wallet_id: 'w-1', balance: huge, postings: '2', last_position_key: 'k2' },
      { account: 'chain:SOL', wallet_id: 'w-1', balance: '-5', postings: '1', last_position_key: 'k2' },
      { account: 'held:w-1', wallet_id: 'w-1', balance: '0', postings: '1', last_position_key: 'k1' },
    ],
    'the conflicting row updated (its other columns kept), the new one inserted, the untouched one as it was',
  )
  const many = Array.from({ length: 120 }, (_, i) => account(`available:w-${i}`, String(i), '1', 'k3'))
  await db.transaction().execute((trx) => insertRows(trx, 'journal_accounts', many, update))
  t.equal((await db.selectFrom('journal_accounts').select('balance').where('account', '=', 'available:w-1').executeTakeFirstOrThrow()).balance, '1', 'many rows in a transaction update too (never by COPY)')
})

t.test('more rows than one statement carries are all written, in several statements', async (t) => {
  const { db } = await testDatabase(t)
  const many = Array.from({ length: 12_345 }, (_, i) => operation(`op-${i}`, String(i)))
  await insertRows(db, 'journal_operations', many)
  const counted = await sql<{ n: string; total: string }>`SELECT count(*) AS n, sum(amount)::text AS total FROM journal_operations`.execute(db)
  t.same(counted.rows[0], { n: '12345', total: String((12_344 * 12_345) / 2) })
})

t.test('the table is found on the search path, as a rebuild puts its shadow schema first', async (t) => {
  const { db } = await testDatabase(t)
  await sql`CREATE SCHEMA shadow; CREATE TABLE shadow.journal_operations (LIKE public.journal_operations INCLUDING ALL)`.execute(db)
  await db.transaction().execute(async (trx) => {
    await sql`SELECT set_config('search_path', 'shadow,public', true)`.execute(trx)
    await insertRows(trx, 'journal_operations', [operation('op-1', '5')])
  })
  t.equal((await sql<{ n: string }>`SELECT count(*) AS n FROM shadow.journal_operations`.execute(db)).rows[0]?.n, '1')
  t.equal((await sql<{ n: string }>`SELECT count(*) AS n FROM public.journal_operations`.execute(db)).rows[0]?.n, '0')
})

t.test('chunks built one at a time: all land in order in one transaction; a failing chunk stops the building and rolls back', async (t) => {
  const { db } = await testDatabase(t)
  const built: number[] = []
  function* chunks(count: number, failAt?: number) {
    for (let c = 0; c < count; c++) {
      built.push(c)
      // A chunk repeating op-0 fails on the primary key.
      yield Array.from({ length: 100 }, (_, i) => operation(c === failAt && i === 99 ? 'op-0' : `op-${c * 100 + i}`, String(c)))
    }
  }
  await db.transaction().execute((trx) => insertRowChunks(trx, 'journal_operations', chunks(5)))
  const counted = await sql<{ n: string; chunks: string }>`SELECT count(*) AS n, count(DISTINCT amount) AS chunks FROM journal_operations`.execute(db)
  t.same(counted.rows[0], { n: '500', chunks: '5' }, 'every chunk written')
  t.same(built, [0, 1, 2, 3, 4])

  await db.deleteFrom('journal_operations').execute()
  built.length = 0
  await t.rejects(db.transaction().execute((trx) => insertRowChunks(trx, 'journal_operations', chunks(50, 1))), /duplicate key/)
  t.equal((await db.selectFrom('journal_operations').select('operation_id').execute()).length, 0, 'nothing of the transaction is written')
  // Chunk 2 is built while chunk 1's statement runs; once that statement has failed, nothing more is built.
  t.same(built, [0, 1, 2], 'no chunk is built once a chunk has failed')
})

t.test('a chunk that throws while being built waits for the chunks already sent, and the transaction writes nothing', async (t) => {
  const { db } = await testDatabase(t)
  function* chunks() {
    // Large enough that the first statement is still running when the second chunk throws.
    yield Array.from({ length: 3000 }, (_, i) => operation(`op-${i}`, String(i)))
    yield Array.from({ length: 3000 }, (_, i) => operation(`op-b-${i}`, String(i)))
    throw new Error('building a row failed')
  }
  await t.rejects(db.transaction().execute((trx) => insertRowChunks(trx, 'journal_operations', chunks())), /building a row failed/)
  // A statement left queued behind the rollback would commit on its own a moment later.
  await new Promise((r) => setTimeout(r, 300))
  t.equal((await db.selectFrom('journal_operations').select('operation_id').execute()).length, 0, 'nothing written, then or later')
})
