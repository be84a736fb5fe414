import { randomUUID } from 'node:crypto'
import { sql } from 'kysely'
import t from 'tap'
import { createDb, createPool, type Db } from '../../src/adapters/postgres/database.ts'
import { Admission, BacklogFull } from '../../src/process-manager/admission.ts'
import { countDueTasks } from '../../src/process-manager/tasks.ts'
import { auth } from '../helpers/app.ts'
import { testDatabase } from '../helpers/database.ts'
import { httpHarness } from '../helpers/http.ts'

/** `n` process-manager tasks due now (or later), as the process manager's subscriber writes them. */
const addTasks = async (db: Db, n: number, dueInSeconds = 0) => {
  for (let i = 0; i < n; i++) {
    await sql`INSERT INTO pm_tasks (stream, kind, entity_id, due_at) VALUES (${`transfer-${randomUUID()}`}, 'transfer', ${randomUUID()}, now() + make_interval(secs => ${dueInSeconds}))`.execute(db)
  }
}
const finishAll = (db: Db) => sql`UPDATE pm_tasks SET done = true`.execute(db)
/** Tests of waiting and refusing wait for every count: on a loaded machine a count can take over the 1 s after which admission fails open. */
const patient = { countTimeoutMs: 60_000 }

t.test('the queue counted is the due work: not what is done, not what is due later', async (t) => {
  const { db } = await testDatabase(t)
  await addTasks(db, 3)
  await addTasks(db, 2, 3600)
  await sql`UPDATE pm_tasks SET done = true WHERE stream IN (SELECT stream FROM pm_tasks WHERE due_at <= now() LIMIT 1)`.execute(db)
  t.equal(await countDueTasks(db), 2)
})

t.test('under the limit an operation goes ahead; each one admitted counts until the next count', async (t) => {
  const { db } = await testDatabase(t)
  await addTasks(db, 3)
  const admission = new Admission({ db, limit: 5, waitMs: 0, refreshMs: 60_000, ...patient })
  await admission.admit()
  await admission.admit()
  await t.rejects(admission.admit(), BacklogFull, 'the third in the same window finds the queue at 5 and no wait allowed')
  t.equal(await countDueTasks(db), 3, 'admitting writes nothing')
  await t.resolves(new Admission({ db, limit: 0, waitMs: 0 }).admit(), 'limit 0: admission control is off')
})

t.test('at the limit an operation waits, and goes ahead as soon as the queue has room', async (t) => {
  const { db } = await testDatabase(t)
  await addTasks(db, 4)
  const admission = new Admission({ db, limit: 4, waitMs: 10_000, refreshMs: 20, ...patient })
  let admitted = false
  const waiting = admission.admit().then(() => (admitted = true))
  await new Promise((r) => setTimeout(r, 150))
  t.equal(admitted, false, 'still waiting while 4 tasks are due')
  await finishAll(db)
  await waiting
  t.equal(admitted, true, 'admitted once the process manager caught up')
})

t.test('POST answers 503 overloaded after the wait, writes nothing, and the same key goes through once there is room', async (t) => {
  const database = await testDatabase(t)
  const { db } = database
  const admission = new Admission({ db, limit: 2, waitMs: 200, refreshMs: 20, ...patient })
  let admits = 0
  const admit = admission.admit.bind(admission)
  admission.admit = () => {
    admits++
    return admit()
  }
  const h = await httpHarness(t, { admission }, database)
  const source = await h.activeWallet('owner-1', '10.00')
  const destination = await h.activeWallet('owner-2')
  const before = await h.store.head()
  await addTasks(db, 2)
  // The setup's own POSTs were admitted against a count of 0; the next count (every 20 ms) must be one made after the tasks exist.
  await new Promise((r) => setTimeout(r, 40))
  const key = randomUUID()
  const body = { sourceWalletId: source, destination: { type: 'wallet', walletId: destination }, amount: '1.00' }
  const refused = await h.post('/transfers', body, { 'idempotency-key': key })
  t.equal(refused.statusCode, 503)
  t.equal(refused.json().error.code, 'overloaded')
  t.match(refused.json().error.message, /2 operations waiting \(limit 2\)/)
  t.equal(refused.headers['retry-after'], '1')
  t.equal(await h.store.head(), before, 'no event was written')
  t.equal((await db.selectFrom('idempotency_keys').select('key').where('key', '=', key).execute()).length, 0, 'and the key is free')

  await finishAll(db)
  const accepted = await h.post('/transfers', body, { 'idempotency-key': key })
  t.equal(accepted.statusCode, 202, 'the retry with the same key is accepted')
  const replay = await h.client.call({ method: 'GET', url: `/transfers/${accepted.json().id}`, headers: auth.backend })
  t.equal(replay.statusCode, 200)

  // Full again: a retry of the answered key is answered from it at once, without waiting for room.
  await addTasks(db, 2)
  await new Promise((r) => setTimeout(r, 40))
  const admitsBefore = admits
  const again = await h.post('/transfers', body, { 'idempotency-key': key })
  t.equal(again.statusCode, 202)
  t.equal(again.headers['idempotent-replayed'], 'true')
  t.same(again.json(), accepted.json())
  t.equal(admits, admitsBefore, 'it never asked for room')
  const fresh = await h.post('/transfers', body)
  t.equal(fresh.statusCode, 503, 'while new work still waits and is refused')
})

t.test('admission fails open: a count that fails, or does not answer within the wait, lets the operation go ahead', async (t) => {
  const { db } = await testDatabase(t)
  const gone = createDb(createPool('postgres://postgres@127.0.0.1:5432/no_such_database_for_admission'))
  t.teardown(() => gone.destroy())
  const started = Date.now()
  await t.resolves(new Admission({ db: gone, limit: 1, waitMs: 2000, refreshMs: 20 }).admit(), 'a failing count admits')
  t.ok(Date.now() - started < 1500, 'without waiting out the wait')

  const hanging = new Admission({ db, limit: 1, waitMs: 150, refreshMs: 20 })
  ;(hanging as unknown as { count: () => Promise<void> }).count = () => new Promise(() => undefined)
  const t0 = Date.now()
  await t.resolves(hanging.admit(), 'a count that never answers admits once it has had a second')
  t.ok(Date.now() - t0 >= 950, 'not before')
  t.equal(await hanging.saturated(), false, 'and is not taken for a full queue')
  t.equal(await new Admission({ db: gone, limit: 1, waitMs: 2000, refreshMs: 20 }).saturated(), false, 'nor is a failing count')
})
