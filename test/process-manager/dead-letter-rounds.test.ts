import { randomUUID } from 'node:crypto'
import { sql } from 'kysely'
import t from 'tap'
import { CircleError, type CirclePort } from '../../src/adapters/circle/port.ts'
import { createWallet } from '../../src/commands/create-wallet.ts'
import { execute } from '../../src/commands/handler.ts'
import { replay } from '../../src/dead-letters/dead-letters.ts'
import { wake } from '../../src/process-manager/tasks.ts'
import { processManagerHarness, until } from '../helpers/circle.ts'
import { meta } from '../helpers/commands.ts'

/** Circle down for good: every wallet creation fails as a transient error. */
const down = {
  createWallet: () => Promise.reject(new CircleError('Circle unavailable', { transient: true, status: 503, code: 503 })),
} as unknown as CirclePort

t.test('a task dead-lettered again after a failure part-way opens the same dead letter; after a replay, a new one', async (t) => {
  const h = await processManagerHarness(t, {}, { circle: down, maxAttempts: 2 })
  // The first dead-letter row insert fails after its event committed: the task is retried and
  // dead-lettered again. A sequence, unlike a table, keeps counting past the rolled-back insert.
  await sql`
    CREATE SEQUENCE dead_letter_inserts;
    CREATE FUNCTION fail_first_dead_letter() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF nextval('dead_letter_inserts') = 1 THEN RAISE EXCEPTION 'the dead letter row could not be written'; END IF;
      RETURN NEW;
    END $$;
    CREATE TRIGGER fail_first_dead_letter BEFORE INSERT ON dead_letters FOR EACH ROW EXECUTE FUNCTION fail_first_dead_letter();
  `.execute(h.db)
  const walletId = randomUUID()
  const stream = `wallet-${walletId}`
  await execute(h.store, createWallet, { walletId, ownerId: 'owner-1' }, meta())
  const parked = (previous?: string) =>
    until(async () => {
      const task = await h.db.selectFrom('pm_tasks').selectAll().where('stream', '=', stream).executeTakeFirst()
      return task?.done && task.dead_letter_id !== null && task.dead_letter_id !== previous ? task.dead_letter_id : undefined
    }, 15_000, 'task dead-lettered')
  const needsAttention = async () => (await h.store.readStream(stream)).filter((e) => e.type === 'OperationNeedsAttention')
  const recorded = async () => (await sql<{ n: number }>`SELECT count(*)::int AS n FROM events WHERE type = 'DeadLetterRecorded'`.execute(h.db)).rows[0]!.n

  const first = await parked()
  const inserts = (await sql<{ n: number }>`SELECT last_value::int AS n FROM dead_letter_inserts`.execute(h.db)).rows[0]!.n
  t.equal(inserts, 2, 'the dead letter was opened twice (the first row insert failed)')
  t.equal(await recorded(), 1, 'one DeadLetterRecorded')
  t.equal((await needsAttention()).length, 1, 'one attention flag on the wallet')
  t.same(await h.db.selectFrom('dead_letters').select(['id', 'status']).where('subject', '=', stream).execute(), [{ id: first, status: 'open' }])

  await replay(h.store, h.db, first, 'admin:a')
  const second = await parked(first)
  t.not(second, first, 'failing again after the replay is a new round: a new dead letter')
  t.equal(await recorded(), 2)
  t.same(
    await h.db.selectFrom('dead_letters').select(['id', 'status']).where('subject', '=', stream).orderBy('status', 'desc').execute(),
    [
      { id: first, status: 'replayed' },
      { id: second, status: 'open' },
    ],
  )
})

t.test('a parked task woken by an event that fails again is parked behind the same dead letter: no second one', async (t) => {
  const h = await processManagerHarness(t, {}, { circle: down, maxAttempts: 2 })
  const walletId = randomUUID()
  const stream = `wallet-${walletId}`
  await execute(h.store, createWallet, { walletId, ownerId: 'owner-1' }, meta())
  const parkedAfter = (version: number) =>
    until(async () => {
      const row = await h.db.selectFrom('pm_tasks').selectAll().where('stream', '=', stream).executeTakeFirst()
      return row?.done && row.version > version && row.last_error !== null ? row : undefined
    }, 15_000, 'task parked')
  const first = await parkedAfter(-1)
  t.ok(first.dead_letter_id)

  // An event on the operation, such as one its own failed run wrote and the subscriber delivers late.
  await wake(h.db, [stream])
  const again = await parkedAfter(first.version)
  t.equal(again.dead_letter_id, first.dead_letter_id, 'behind the same dead letter')
  t.equal(again.attempts, 2, 'after a whole new run of attempts')
  const recorded = await sql<{ n: number }>`SELECT count(*)::int AS n FROM events WHERE type = 'DeadLetterRecorded'`.execute(h.db)
  t.equal(recorded.rows[0]!.n, 1, 'one DeadLetterRecorded')
  t.equal((await h.store.readStream(stream)).filter((e) => e.type === 'OperationNeedsAttention').length, 1, 'one attention flag')
  t.same(await h.db.selectFrom('dead_letters').select(['id', 'status']).where('subject', '=', stream).execute(), [{ id: first.dead_letter_id, status: 'open' }])

  // The admin's replay after the cause is fixed clears it; failing again is a new round.
  await replay(h.store, h.db, first.dead_letter_id!, 'admin:a')
  const third = await parkedAfter(again.version)
  t.not(third.dead_letter_id, first.dead_letter_id, 'a new dead letter after the replay')
})
