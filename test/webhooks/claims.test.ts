import { randomUUID } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { sql } from 'kysely'
import pino from 'pino'
import t, { type Test } from 'tap'
import { PostgresEventStore } from '../../src/adapters/event-store/postgres.ts'
import type { Db } from '../../src/adapters/postgres/database.ts'
import { openDeadLetter, replay } from '../../src/dead-letters/dead-letters.ts'
import { claimDue, lastProcessedAt, lastProcessedQuery, markDead, markProcessed, renewClaim, scheduleRetry, store } from '../../src/webhooks/inbox.ts'
import { WebhookWorker } from '../../src/webhooks/worker.ts'
import { until } from '../helpers/circle.ts'
import { terminateLockHolder, testDatabase } from '../helpers/database.ts'

const MASTER = 'master-wallet-1'

/** A treasury deposit notification: handling it asks for the master wallet's id, once. */
async function storeTreasuryDeposit(db: Db): Promise<string> {
  const id = randomUUID()
  await store(db, {
    id,
    scheme: 'v2',
    type: 'deposits',
    resource: { id: randomUUID(), status: 'complete', amount: { amount: '1.00', currency: 'USD' }, destination: { type: 'wallet', id: MASTER } },
  })
  return id
}

const row = (db: Db, id: string) => db.selectFrom('webhook_inbox').selectAll().where('id', '=', id).executeTakeFirstOrThrow()

t.test('a worker whose claim expired and was taken again records nothing; the new holder records the outcome', async (t) => {
  const { db } = await testDatabase(t)
  const id = await storeTreasuryDeposit(db)
  const [stale] = await claimDue(db, 1, 30)
  // As if the worker had stopped renewing: its claim lapses and another worker claims the notification.
  await sql`UPDATE webhook_inbox SET locked_until = now() - interval '1 second'`.execute(db)
  const [current] = await claimDue(db, 1, 30)
  t.ok(stale && current, 'claimed twice')
  t.not(stale!.claimToken, current!.claimToken, 'each claim has its own token')

  t.equal(await renewClaim(db, stale!, 30), false, 'the stale claim is not renewed')
  t.equal(await scheduleRetry(db, stale!, 0, 'stale failure'), false)
  t.equal(await markDead(db, stale!, randomUUID(), 'stale failure'), false)
  t.equal(await markProcessed(db, stale!), false)
  const untouched = await row(db, id)
  t.equal(untouched.status, 'pending', 'the stale worker neither processed nor buried it')
  t.equal(untouched.attempts, 0, 'no failure counted')
  t.equal(untouched.dead_letter_id, null)
  t.not(untouched.locked_until, null, 'the new claim still stands')

  t.equal(await renewClaim(db, current!, 30), true)
  t.equal(await markProcessed(db, current!), true)
  const processed = await row(db, id)
  t.equal(processed.status, 'processed')
  t.equal(processed.locked_until, null)
  t.equal(processed.claim_token, null)
})

/** Webhook workers whose master-wallet lookup waits for `gate`, counting the lookups. */
async function setUp(t: Test) {
  const database = await testDatabase(t)
  const eventStore = new PostgresEventStore(database.pool, { pollIntervalMs: 100 })
  t.teardown(() => eventStore.close())
  const gate = Promise.withResolvers<void>()
  const calls = { started: 0, running: 0, mostAtOnce: 0 }
  const masterWalletId = async () => {
    calls.started++
    calls.mostAtOnce = Math.max(calls.mostAtOnce, ++calls.running)
    try {
      await gate.promise
      return MASTER
    } finally {
      calls.running--
    }
  }
  const worker = () => {
    const w = new WebhookWorker({
      store: eventStore,
      db: database.db,
      pool: database.pool,
      issuer: { get: () => Promise.reject(new Error('no cards here')) },
      masterWalletId,
      logger: pino({ level: 'silent' }),
      tickMs: 20,
      leaseRetryMs: 100,
      // One second: a handler of a few seconds outlives several claims unless they are renewed.
      claimSeconds: 1,
    })
    w.start()
    t.teardown(async () => {
      gate.resolve()
      await w.stop()
    })
    return w
  }
  const processed = (id: string) =>
    until(async () => {
      const r = await row(database.db, id)
      return r.status === 'processed' ? r : undefined
    }, 10_000, 'notification processed')
  return { db: database.db, gate, calls, worker, processed }
}

t.test('a notification handled longer than its claim keeps it: it is not claimed again while it runs', async (t) => {
  const h = await setUp(t)
  h.worker()
  const id = await storeTreasuryDeposit(h.db)
  await until(async () => h.calls.started > 0, 10_000, 'handler started')
  await sleep(3000)
  t.equal(h.calls.started, 1, 'three claim durations later, still one handler')
  h.gate.resolve()
  const done = await h.processed(id)
  t.equal(done.attempts, 0, 'processed at the first attempt')
  t.equal(h.calls.mostAtOnce, 1, 'never two at once')
  t.equal(h.calls.started, 1)
})

t.test('a takeover does not hand the new worker a notification the old one still handles; the old one records it', async (t) => {
  const h = await setUp(t)
  const first = h.worker()
  await until(async () => first.active, 10_000, 'first worker active')
  const second = h.worker()
  const id = await storeTreasuryDeposit(h.db)
  await until(async () => h.calls.started > 0, 10_000, 'handler started')

  // The first worker's lease connection drops (it lives on and finishes what it handles); the second takes over.
  await terminateLockHolder(h.db, 'webhook-worker')
  await until(async () => second.active, 10_000, 'second worker took over')
  await sleep(2500)
  t.equal(h.calls.started, 1, 'the second worker did not start the running notification again')

  h.gate.resolve()
  const done = await h.processed(id)
  t.equal(done.last_error, null, 'the first worker recorded it as processed')
  t.equal(h.calls.mostAtOnce, 1, 'never two at once')
  t.equal(h.calls.started, 1)
})

t.test('a replay while the failing worker still holds the claim: the old round buries nothing, the notification runs again', async (t) => {
  const { db, pool } = await testDatabase(t)
  const eventStore = new PostgresEventStore(pool, { pollIntervalMs: 100 })
  t.teardown(() => eventStore.close())
  const id = await storeTreasuryDeposit(db)
  const [failing] = await claimDue(db, 1, 30)
  // The worker's last attempt failed: it opens the dead letter (listed as open from here on) and,
  // before it marks the inbox row dead, an admin replays that dead letter.
  const deadLetterId = await openDeadLetter(eventStore, db, { kind: 'webhook', subject: id, detail: 'deposits', error: 'kept failing', attempts: 10 }, 'circle-webhook', failing!.replays)
  await replay(eventStore, db, deadLetterId, 'admin:test')
  t.equal(await markDead(db, failing!, deadLetterId, 'kept failing'), false, 'the round before the replay buries nothing')
  t.equal(await scheduleRetry(db, failing!, 60_000, 'kept failing'), false, 'nor schedules the new round later')
  const replayed = await row(db, id)
  t.equal(replayed.status, 'pending', 'still pending, as the replay left it')
  t.equal(replayed.replays, 1)
  t.equal(replayed.attempts, 0, 'a fresh retry budget')
  t.equal(replayed.dead_letter_id, null)

  // Once the old claim lapses (its worker stopped renewing it), the replayed round is claimed again.
  await sql`UPDATE webhook_inbox SET locked_until = now() - interval '1 second'`.execute(db)
  const [again] = await claimDue(db, 1, 30)
  t.equal(again?.id, id, 'claimed again')
  t.equal(again?.replays, 1, 'in its new round')
  t.equal(await markProcessed(db, again!), true)
  t.equal((await row(db, id)).status, 'processed')
})

t.test('when a webhook was last processed is read from one index entry, however long the inbox', async (t) => {
  const { db } = await testDatabase(t)
  t.equal(await lastProcessedAt(db), undefined, 'never, on an empty inbox')
  await sql`
    INSERT INTO webhook_inbox (id, scheme, notification_type, resource, status, processed_at)
    SELECT 'n-' || i, 'v2', 'transfers', '{}'::jsonb, CASE WHEN i % 10 = 0 THEN 'pending' ELSE 'processed' END,
      CASE WHEN i % 10 = 0 THEN NULL ELSE timestamptz '2026-11-01T00:00:00Z' + make_interval(secs => i) END
    FROM generate_series(1, 20000) AS i`.execute(db)
  await sql`ANALYZE webhook_inbox`.execute(db)
  t.same(await lastProcessedAt(db), new Date(Date.UTC(2026, 10, 1) + 19_999_000), 'the newest processed_at')
  const { sql: text, parameters } = lastProcessedQuery(db).compile()
  const plan = (await sql<{ 'QUERY PLAN': string }>`EXPLAIN (FORMAT TEXT) ${sql.raw(text)}`.execute(db)).rows.map((r) => r['QUERY PLAN']).join('\n')
  t.same(parameters, [])
  t.match(plan, /Index Only Scan Backward using webhook_inbox_processed_at/, 'the index read backwards, one entry')
  t.notMatch(plan, /Seq Scan/, 'not the whole table')
})
