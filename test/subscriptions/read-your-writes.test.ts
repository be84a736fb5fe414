import t from 'tap'
import { PostgresEventStore } from '../../src/adapters/event-store/postgres.ts'
import { saveCheckpoint } from '../../src/subscriptions/checkpoints.ts'
import { readYourWrites, ReadModelsBehind } from '../../src/subscriptions/read-your-writes.ts'
import { testDatabase } from '../helpers/database.ts'
import { newEvents } from '../helpers/events.ts'

t.test('without an active local runner the wait polls the checkpoint row; past the timeout it is ReadModelsBehind', async (t) => {
  const { db, pool } = await testDatabase(t)
  const store = new PostgresEventStore(pool)
  t.teardown(() => store.close())
  const written = await store.append('s-1', newEvents(3), { expected: 'no_stream' })
  const standby = { isActive: false, caughtUp: async () => void t.fail('a standby runner is never waited on') }
  const wait = readYourWrites({ store, db, checkpoint: 'projection:x@v1', local: standby, timeoutMs: 300, pollMs: 5 })
  await t.rejects(wait(written.position), ReadModelsBehind, 'nobody projects: the wait gives up')
  await saveCheckpoint(db, 'projection:x@v1', undefined, '2')
  await t.rejects(wait(written.position), ReadModelsBehind, 'behind the write: still waiting')
  setTimeout(() => void saveCheckpoint(db, 'projection:x@v1', '2', written.position), 50)
  await wait(written.position)
  t.pass('another instance moving the checkpoint row releases the wait')
  await wait(undefined)
  t.pass('no position: waits for the head, already reached')
})

t.test('an active local runner is followed directly', async (t) => {
  const { db, pool } = await testDatabase(t)
  const store = new PostgresEventStore(pool)
  t.teardown(() => store.close())
  const asked: string[] = []
  const active = { isActive: true, caughtUp: async (p: string) => void asked.push(p) }
  await readYourWrites({ store, db, checkpoint: 'projection:x@v1', local: active })('7')
  t.same(asked, ['7'])
})
