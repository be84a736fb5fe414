import t from 'tap'
import { PostgresEventStore } from '../../src/adapters/event-store/postgres.ts'
import { discard, openDeadLetter, replay } from '../../src/dead-letters/dead-letters.ts'
import { DomainError } from '../../src/commands/errors.ts'
import { testDatabase } from '../helpers/database.ts'

t.test('an admin action whose event was written but whose row was not (a crash in between) resumes instead of failing', async (t) => {
  const database = await testDatabase(t)
  const store = new PostgresEventStore(database.pool)
  t.teardown(() => store.close())
  const id = await openDeadLetter(store, database.db, { kind: 'webhook', subject: 'n-9', detail: 'transfers', error: 'x', attempts: 3 }, 'circle-webhook')
  await replay(store, database.db, id, 'admin:a')
  // As if the process died after the event: the row still says open.
  await database.db.updateTable('dead_letters').set({ status: 'open' }).where('id', '=', id).execute()
  const row = await replay(store, database.db, id, 'admin:a')
  t.equal(row.status, 'replayed')
  t.equal((await store.readStream(`deadletter-${id}`)).filter((e) => e.type === 'DeadLetterReplayed').length, 1, 'no second event')
  await t.rejects(discard(store, database.db, id, 'x', 'admin:a'), DomainError, 'a replayed dead letter cannot be discarded')
})
