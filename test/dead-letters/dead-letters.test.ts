import { randomUUID } from 'node:crypto'
import t, { type Test } from 'tap'
import { PostgresEventStore } from '../../src/adapters/event-store/postgres.ts'
import { discard, listDeadLetters, openDeadLetter, refreshDeadLetter, replay } from '../../src/dead-letters/dead-letters.ts'
import { DomainError } from '../../src/commands/errors.ts'
import { claimDue, markDead } from '../../src/webhooks/inbox.ts'
import { testDatabase } from '../helpers/database.ts'

async function setUp(t: Test) {
  const database = await testDatabase(t)
  const store = new PostgresEventStore(database.pool)
  t.teardown(() => store.close())
  return { ...database, store }
}

t.test('an admin action whose event was written but whose row was not (a crash in between) resumes instead of failing', async (t) => {
  const database = await setUp(t)
  const { store } = database
  const id = await openDeadLetter(store, database.db, { kind: 'webhook', subject: 'n-9', detail: 'transfers', error: 'x', attempts: 3 }, 'circle-webhook', 0)
  await replay(store, database.db, id, 'admin:a')
  // As if the process died after the event: the row still says open.
  await database.db.updateTable('dead_letters').set({ status: 'open' }).where('id', '=', id).execute()
  const row = await replay(store, database.db, id, 'admin:a')
  t.equal(row.status, 'replayed')
  t.equal((await store.readStream(`deadletter-${id}`)).filter((e) => e.type === 'DeadLetterReplayed').length, 1, 'no second event')
  await t.rejects(discard(store, database.db, id, 'x', 'admin:a'), DomainError, 'a replayed dead letter cannot be discarded')
})

t.test('a dead letter opened again in the same round (its row insert failed after its event) is the same one: one event, one attention flag, one row', async (t) => {
  const { db, store } = await setUp(t)
  const subject = `mint-${randomUUID()}`
  const entry = { kind: 'task' as const, subject, detail: 'mint', error: 'Circle unavailable', attempts: 10, attention: 'circle_call_failed' }
  const id = await openDeadLetter(store, db, entry, 'process-manager', 4)
  // As if the row insert had failed after the event committed; the caller tries again.
  await db.deleteFrom('dead_letters').where('id', '=', id).execute()
  t.equal(await openDeadLetter(store, db, entry, 'process-manager', 4), id, 'the same dead letter')
  t.equal(await openDeadLetter(store, db, entry, 'process-manager', 4), id, 'and again once its row is there')

  t.equal((await store.readStream(`deadletter-${id}`)).filter((e) => e.type === 'DeadLetterRecorded').length, 1, 'one DeadLetterRecorded')
  t.equal((await store.readStream(subject)).filter((e) => e.type === 'OperationNeedsAttention').length, 1, 'one attention flag on the operation')
  const rows = await db.selectFrom('dead_letters').select(['id', 'status']).where('subject', '=', subject).execute()
  t.same(rows, [{ id, status: 'open' }], 'one row')
})

t.test('a notification failing again after its dead letter was replayed gets a new dead letter', async (t) => {
  const { db, store } = await setUp(t)
  const notificationId = randomUUID()
  await db.insertInto('webhook_inbox').values({ id: notificationId, scheme: 'v2', notification_type: 'transfers', resource: '{}', locked_until: null, last_error: null, dead_letter_id: null, processed_at: null }).execute()
  const deadLetterOf = async () => {
    const [item] = await claimDue(db, 1, 60)
    if (!item) throw new Error('the notification is not due')
    const id = await openDeadLetter(store, db, { kind: 'webhook', subject: item.id, detail: item.type, error: 'unknown transfer', attempts: 3 }, 'circle-webhook', item.replays)
    await markDead(db, item, id, 'unknown transfer')
    return id
  }
  const first = await deadLetterOf()
  await replay(store, db, first, 'admin:a')
  const second = await deadLetterOf()
  t.not(second, first, 'a new round, a new dead letter')
  const rows = await db.selectFrom('dead_letters').select(['id', 'status']).where('subject', '=', notificationId).orderBy('status', 'desc').execute()
  t.same(rows, [
    { id: first, status: 'replayed' },
    { id: second, status: 'open' },
  ])
})

t.test('dead letters made in the same transaction (one now()) are all listed, page by page', async (t) => {
  const { db } = await setUp(t)
  // One statement: every row gets the same creation time, as dead letters opened together would.
  const ids = Array.from({ length: 5 }, () => randomUUID())
  await db
    .insertInto('dead_letters')
    .values(ids.map((id, i) => ({ id, kind: 'webhook', subject: `n-${i}`, detail: 'transfers', attention: null, error: 'x', attempts: 1, resolved_by: null, reason: null, resolved_at: null })))
    .execute()
  const seen: string[] = []
  let cursor: string | undefined
  for (let pages = 0; pages < 10; pages++) {
    const page = await listDeadLetters(db, {}, { limit: 2, ...(cursor === undefined ? {} : { cursor }) })
    seen.push(...page.items.map((r) => r.id))
    if (page.nextCursor === null) break
    cursor = page.nextCursor
  }
  // With now()'s microseconds, the cursor's milliseconds came before the page's last row, and the next page skipped the rest.
  t.same([...seen].sort(), [...ids].sort(), 'every dead letter once, none skipped')
})

t.test('a task failing again behind its open dead letter refreshes it: the row shows the new failure, the operation what is stuck now', async (t) => {
  const { db, store } = await setUp(t)
  const subject = `redeem-${randomUUID()}`
  const id = await openDeadLetter(store, db, { kind: 'task', subject, detail: 'redeem', error: 'Circle unavailable', attempts: 10, attention: 'circle_call_failed' }, 'process-manager', 3)
  const refresh = { deadLetterId: id, subject, error: 'Insufficient funds.', attempts: 10, attention: 'compensation_failed' }
  t.equal(await refreshDeadLetter(store, db, refresh, 'process-manager', 5), true)
  const flags = async () => (await store.readStream(subject)).filter((e) => e.type === 'OperationNeedsAttention').map((e) => [e.data.attention, e.data.deadLetterId])
  t.same(await flags(), [['circle_call_failed', id], ['compensation_failed', id]], 'flagged again under the same dead letter')
  const row = await db.selectFrom('dead_letters').selectAll().where('id', '=', id).executeTakeFirstOrThrow()
  t.equal(row.attention, 'compensation_failed')
  t.equal(row.error, 'Insufficient funds.')

  t.equal(await refreshDeadLetter(store, db, refresh, 'process-manager', 6), true, 'failing the same way again')
  t.equal((await flags()).length, 2, 'no flag for the same attention')

  await discard(store, db, id, 'settled by hand at Circle', 'admin:a')
  t.equal(await refreshDeadLetter(store, db, { ...refresh, attention: 'circle_call_failed', error: 'late' }, 'process-manager', 7), false, 'nothing once it is closed')
  t.equal((await flags()).length, 2)
  t.equal((await db.selectFrom('dead_letters').selectAll().where('id', '=', id).executeTakeFirstOrThrow()).error, 'Insufficient funds.')
})
