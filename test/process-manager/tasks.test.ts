import { randomUUID } from 'node:crypto'
import { sql } from 'kysely'
import t, { type Test } from 'tap'
import type { Db } from '../../src/adapters/postgres/database.ts'
import { up as clearClosedDeadLetters } from '../../src/adapters/postgres/migrations/20261128T0200-task-resolved-dead-letter.ts'
import { claimDue, release, requeue, settle, wake, wakeWaiting, type Task } from '../../src/process-manager/tasks.ts'
import { until } from '../helpers/circle.ts'
import { testDatabase } from '../helpers/database.ts'

/** A task for a new redeem stream, claimed as a runner claims it. */
async function claimed(t: Test): Promise<{ db: Db; stream: string; task: Task }> {
  const { db } = await testDatabase(t)
  const stream = `redeem-${randomUUID()}`
  await wake(db, [stream])
  const [task] = await claimDue(db, 1, 30)
  if (!task) throw new Error('nothing claimed')
  return { db, stream, task }
}

const row = (db: Db, stream: string) => db.selectFrom('pm_tasks').selectAll().where('stream', '=', stream).executeTakeFirstOrThrow()
const dead = (deadLetterId: string) => ({ next: 'dead', deadLetterId, error: 'Insufficient funds.', opened: true }) as const

t.test('an event wakes a parked task, whose claim carries its open dead letter', async (t) => {
  const { db, stream, task } = await claimed(t)
  t.equal(task.deadLetterId, undefined, 'no dead letter yet')
  const deadLetterId = randomUUID()
  t.equal(await settle(db, task, dead(deadLetterId)), true)
  t.same(await claimDue(db, 10, 30), [], 'parked')
  // The event its own failing run wrote, delivered late by the subscriber, or news it did not have.
  await wake(db, [stream])
  const [woken] = await claimDue(db, 1, 30)
  t.equal(woken?.stream, stream, 'due again')
  t.equal(woken?.deadLetterId, deadLetterId, 'still behind its open dead letter')
  t.equal(woken?.attempts, 0, 'a fresh run of attempts')
})

t.test('a woken task keeps its dead letter through retries and a success, until an admin acts', async (t) => {
  const { db, stream, task } = await claimed(t)
  const deadLetterId = randomUUID()
  await settle(db, task, dead(deadLetterId))
  await wake(db, [stream])
  const [retried] = await claimDue(db, 1, 30)
  await settle(db, retried!, { next: 'retry', inMs: 0, error: 'Insufficient funds.' })
  t.equal((await row(db, stream)).dead_letter_id, deadLetterId, 'kept through a retry')
  const [succeeded] = await claimDue(db, 1, 30)
  t.equal(succeeded?.deadLetterId, deadLetterId)
  await settle(db, succeeded!, { next: 'done' })
  const done = await row(db, stream)
  t.equal(done.done, true)
  t.equal(done.dead_letter_id, deadLetterId, 'kept through a success: the dead letter is still open')
})

t.test('a dead letter replayed before its run settles: the task stays due with a fresh budget', async (t) => {
  const { db, stream, task } = await claimed(t)
  const deadLetterId = randomUUID()
  t.equal(await requeue(db, stream, deadLetterId), true)
  t.equal(await settle(db, task, dead(deadLetterId)), true)
  const due = await row(db, stream)
  t.equal(due.done, false, 'not parked behind the dead letter just replayed')
  t.equal(due.dead_letter_id, null)
  t.equal(due.attempts, 0, 'the replay gave it a fresh retry budget')
  t.equal(due.last_error, null)
  const [again] = await claimDue(db, 1, 30)
  t.equal(again?.stream, stream, 'claimed again at once')
  t.equal(again?.deadLetterId, undefined, 'failing again opens a new dead letter')
})

t.test('a dead letter discarded before its run settles: the task is done, not parked, and the next event wakes it', async (t) => {
  const { db, stream, task } = await claimed(t)
  const deadLetterId = randomUUID()
  t.equal(await release(db, stream, deadLetterId), true)
  t.equal(await settle(db, task, dead(deadLetterId)), true)
  const settled = await row(db, stream)
  t.equal(settled.done, true, 'the discarded step does not run again')
  t.equal(settled.dead_letter_id, null, 'not parked behind it')
  t.same(await claimDue(db, 10, 30), [])
  await wake(db, [stream])
  const [woken] = await claimDue(db, 1, 30)
  t.equal(woken?.stream, stream, 'a new event makes it due')
  t.equal(woken?.deadLetterId, undefined)
})

t.test('a dead letter discarded, and an event, before its run settles: the task is due, so the event is acted on', async (t) => {
  const { db, stream, task } = await claimed(t)
  const deadLetterId = randomUUID()
  await wake(db, [stream])
  await release(db, stream, deadLetterId)
  t.equal(await settle(db, task, dead(deadLetterId)), true)
  const due = await row(db, stream)
  t.equal(due.done, false)
  t.equal(due.dead_letter_id, null, 'not behind the discarded dead letter')
  const [again] = await claimDue(db, 1, 30)
  t.equal(again?.stream, stream)
})

t.test('a woken task whose dead letter is discarded while it runs: failing again, it stops, behind no dead letter', async (t) => {
  const { db, stream, task } = await claimed(t)
  const deadLetterId = randomUUID()
  await settle(db, task, dead(deadLetterId))
  await wake(db, [stream])
  const [woken] = await claimDue(db, 1, 30)
  t.equal(woken?.deadLetterId, deadLetterId)
  await release(db, stream, deadLetterId)
  t.equal(await settle(db, woken!, { ...dead(deadLetterId), opened: false }), true)
  const stopped = await row(db, stream)
  t.equal(stopped.done, true)
  t.equal(stopped.dead_letter_id, null)
  t.same(await claimDue(db, 10, 30), [])
})

t.test('a parked task whose dead letter is discarded stays done; the next event wakes it without that dead letter', async (t) => {
  const { db, stream, task } = await claimed(t)
  const deadLetterId = randomUUID()
  await settle(db, task, dead(deadLetterId))
  t.equal(await release(db, stream, deadLetterId), true)
  const released = await row(db, stream)
  t.equal(released.done, true)
  t.equal(released.dead_letter_id, null)
  t.same(await claimDue(db, 10, 30), [], 'the discard runs nothing')
  await wake(db, [stream])
  const [woken] = await claimDue(db, 1, 30)
  t.equal(woken?.deadLetterId, undefined, 'failing again opens a new dead letter')
})

t.test('a discard of a dead letter the task is not behind changes nothing the task does', async (t) => {
  const { db, stream, task } = await claimed(t)
  const open = randomUUID()
  await settle(db, task, dead(open))
  await release(db, stream, randomUUID())
  const parked = await row(db, stream)
  t.equal(parked.done, true)
  t.equal(parked.dead_letter_id, open, 'still behind its own dead letter')

  // A task polling Circle, between claims: a discard of some older dead letter must not stop it.
  const idle = `mint-${randomUUID()}`
  await wake(db, [idle])
  const [polling] = await claimDue(db, 1, 30)
  await settle(db, polling!, { next: 'poll', inMs: 60_000 })
  await release(db, idle, randomUUID())
  t.equal((await row(db, idle)).done, false, 'still polling')
})

t.test('a replay of a dead letter the task is not behind keeps the open one', async (t) => {
  const { db, stream, task } = await claimed(t)
  const open = randomUUID()
  await settle(db, task, dead(open))
  await requeue(db, stream, randomUUID())
  const [again] = await claimDue(db, 1, 30)
  t.equal(again?.deadLetterId, open, 'failing again parks it behind the one still open')
})

t.test('a settle that is not a dead letter is untouched by an earlier admin action', async (t) => {
  const { db, stream, task } = await claimed(t)
  await requeue(db, stream, randomUUID())
  t.equal(await settle(db, task, { next: 'retry', inMs: 60_000, error: 'Circle unavailable' }), true)
  const retried = await row(db, stream)
  t.equal(retried.done, false)
  t.equal(retried.attempts, 1)
  t.equal(retried.last_error, 'Circle unavailable')
  t.ok(retried.due_at.getTime() <= Date.now() + 1000, 'due now: the requeue is newer than the claim')
})

t.test('the migration frees tasks left behind a dead letter discarded before it, and links those that forgot an open one', async (t) => {
  const { db, stream, task } = await claimed(t)
  const discarded = randomUUID()
  await settle(db, task, dead(discarded))
  await db
    .insertInto('dead_letters')
    .values({ id: discarded, kind: 'task', subject: stream, detail: 'redeem', attention: null, error: 'x', attempts: 3, resolved_by: null, reason: null, resolved_at: null })
    .execute()
  // Discarded by the code before the migration, which left the task behind it.
  await db.updateTable('dead_letters').set({ status: 'discarded', resolved_by: 'admin:a', reason: 'by hand', resolved_at: new Date() }).where('id', '=', discarded).execute()
  const other = `redeem-${randomUUID()}`
  await wake(db, [other])
  const [second] = await claimDue(db, 1, 30)
  const open = randomUUID()
  await settle(db, second!, dead(open))
  await db.insertInto('dead_letters').values({ id: open, kind: 'task', subject: other, detail: 'redeem', attention: null, error: 'x', attempts: 3, resolved_by: null, reason: null, resolved_at: null }).execute()

  // A task the code before the migration woke and retried: it had forgotten its still open dead letter.
  const forgot = `redeem-${randomUUID()}`
  await wake(db, [forgot])
  const older = randomUUID()
  const newer = randomUUID()
  for (const [id, at] of [[older, '2026-11-01T00:00:00Z'], [newer, '2026-11-02T00:00:00Z']] as const) {
    await db.insertInto('dead_letters').values({ id, kind: 'task', subject: forgot, detail: 'redeem', attention: null, error: 'x', attempts: 3, resolved_by: null, reason: null, resolved_at: null, created_at: at }).execute()
  }

  await clearClosedDeadLetters(db as never)
  t.equal((await row(db, stream)).dead_letter_id, null, 'no longer behind the discarded one')
  t.equal((await row(db, other)).dead_letter_id, open, 'an open one is kept')
  t.equal((await row(db, forgot)).dead_letter_id, newer, 'linked again to its newest open dead letter')
})

t.test('wake and wakeWaiting lock their rows in stream order, so that neither can deadlock with the other', async (t) => {
  const { db, pool } = await testDatabase(t)
  // Two card tasks waiting for their next look; `b` is written first, so a scan meets it first.
  const b = 'card-bbbbbbbb-0000-4000-8000-000000000000'
  const a = 'card-aaaaaaaa-0000-4000-8000-000000000000'
  await wake(db, [b])
  await wake(db, [a])
  const later = sql<Date>`now() + interval '1 hour'`
  await db.updateTable('pm_tasks').set({ due_at: later }).execute()

  // Another transaction holds `a`. A statement locking in stream order waits for it before touching
  // `b`; one locking `b` first would hold `b` while it waits (and deadlock with a holder of `a`
  // that wants `b` next).
  const holder = await pool.connect()
  t.teardown(() => holder.release())
  const lockedB = async () => {
    const probe = await pool.connect()
    try {
      await probe.query('BEGIN')
      await probe.query(`SELECT 1 FROM pm_tasks WHERE stream = $1 FOR UPDATE NOWAIT`, [b])
      return false
    } catch (err) {
      if ((err as { code?: string }).code === '55P03') return true
      throw err
    } finally {
      await probe.query('ROLLBACK')
      probe.release()
    }
  }
  const whileAHeld = async (statement: () => Promise<unknown>) => {
    await holder.query('BEGIN')
    await holder.query(`SELECT 1 FROM pm_tasks WHERE stream = $1 FOR UPDATE`, [a])
    const running = statement()
    // Until it waits for `a`.
    await until(async () => (await pool.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()`)).rows[0].n > 0, 5000, 'the statement waiting for a')
    const heldB = await lockedB()
    await holder.query('COMMIT')
    await running
    return heldB
  }

  t.equal(await whileAHeld(() => wake(db, [b, a])), false, 'wake, given b before a, takes a first')
  // Waiting again, `b` rewritten first, so that a scan meets it first again.
  for (const stream of [b, a]) await db.updateTable('pm_tasks').set({ due_at: later }).where('stream', '=', stream).execute()
  t.equal(await whileAHeld(() => wakeWaiting(db, 'card')), false, 'wakeWaiting takes a first')
  t.equal(
    (await db.selectFrom('pm_tasks').select('stream').where('due_at', '<=', sql<Date>`now()`).orderBy('stream').execute()).length,
    2,
    'and both woke both',
  )
})
