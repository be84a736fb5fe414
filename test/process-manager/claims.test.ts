import { randomUUID } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { sql } from 'kysely'
import pino from 'pino'
import t, { type Test } from 'tap'
import { PostgresEventStore } from '../../src/adapters/event-store/postgres.ts'
import type { CirclePort } from '../../src/adapters/circle/port.ts'
import { createWallet } from '../../src/commands/create-wallet.ts'
import { execute } from '../../src/commands/handler.ts'
import { fold } from '../../src/events/fold.ts'
import { wallet } from '../../src/events/wallet.ts'
import { ProcessManager } from '../../src/process-manager/process-manager.ts'
import { claimDue, settle, wake } from '../../src/process-manager/tasks.ts'
import { simulatedCircle, until } from '../helpers/circle.ts'
import { meta } from '../helpers/commands.ts'
import { terminateLockHolder, testDatabase } from '../helpers/database.ts'

/** Circle whose wallet creation waits for `opened` first, counting the calls and how many ran at once. */
function slowWallets(real: CirclePort, opened: Promise<unknown>) {
  const calls = { started: 0, running: 0, mostAtOnce: 0 }
  const circle = Object.assign(Object.create(real) as CirclePort, {
    createWallet: async (request: Parameters<CirclePort['createWallet']>[0]) => {
      calls.started++
      calls.mostAtOnce = Math.max(calls.mostAtOnce, ++calls.running)
      try {
        await opened
        return await real.createWallet(request)
      } finally {
        calls.running--
      }
    },
  })
  return { circle, calls }
}

type Harness = Awaited<ReturnType<typeof setUp>>

async function setUp(t: Test) {
  const database = await testDatabase(t)
  const store = new PostgresEventStore(database.pool, { pollIntervalMs: 100 })
  t.teardown(() => store.close())
  const sim = await simulatedCircle(t)
  const gate = Promise.withResolvers<void>()
  return { database, store, sim, gate, ...slowWallets(sim.circle, gate.promise) }
}

async function processManager(t: Test, h: Harness) {
  const pm = new ProcessManager({
    store: h.store,
    db: h.database.db,
    pool: h.database.pool,
    circle: h.circle,
    issuer: h.sim.issuer,
    logger: pino({ level: 'silent' }),
    pollMs: 60,
    tickMs: 20,
    retry: { baseMs: 20, maxMs: 200 },
    leaseRetryMs: 100,
    // One second: a step of a few seconds outlives several claims unless they are renewed.
    claimSeconds: 1,
  })
  pm.start()
  t.teardown(async () => {
    // Should the test fail before opening it, a step still waiting would hold stop() up.
    h.gate.resolve()
    await pm.stop()
  })
  return pm
}

async function requestWallet(store: PostgresEventStore): Promise<string> {
  const walletId = randomUUID()
  await execute(store, createWallet, { walletId, ownerId: 'owner-1' }, meta())
  return walletId
}

async function activeAndSettled(h: Harness, walletId: string) {
  await until(async () => (await fold(h.store, wallet, walletId)).state.status === 'active', 10_000, 'wallet active')
  return until(async () => {
    const task = await h.database.db.selectFrom('pm_tasks').selectAll().where('stream', '=', `wallet-${walletId}`).executeTakeFirst()
    return task?.done ? task : undefined
  }, 10_000, 'task settled')
}

t.test('a settle by a runner whose claim expired and was taken again writes nothing; the new holder settles', async (t) => {
  const { db } = await testDatabase(t)
  const stream = `wallet-${randomUUID()}`
  await wake(db, [stream])
  const [stale] = await claimDue(db, 1, 30)
  // As if the runner had stopped renewing: its claim lapses and another runner claims the task.
  await sql`UPDATE pm_tasks SET locked_until = now() - interval '1 second'`.execute(db)
  const [current] = await claimDue(db, 1, 30)
  t.ok(stale && current, 'claimed twice')
  t.not(stale!.claimToken, current!.claimToken, 'each claim has its own token')

  t.equal(await settle(db, stale!, { next: 'retry', inMs: 0, error: 'stale outcome' }), false, 'the stale settle reports its claim lost')
  const untouched = await db.selectFrom('pm_tasks').selectAll().where('stream', '=', stream).executeTakeFirstOrThrow()
  t.equal(untouched.attempts, 0, 'no failure counted')
  t.equal(untouched.last_error, null)
  t.not(untouched.locked_until, null, 'the new claim still stands')

  t.equal(await settle(db, current!, { next: 'done' }), true)
  const settled = await db.selectFrom('pm_tasks').selectAll().where('stream', '=', stream).executeTakeFirstOrThrow()
  t.ok(settled.done)
  t.equal(settled.locked_until, null)
})

t.test('a step that runs longer than its claim keeps it: the task is not claimed again while it runs', async (t) => {
  const h = await setUp(t)
  await processManager(t, h)
  const walletId = await requestWallet(h.store)
  await until(async () => h.calls.started > 0, 10_000, 'wallet creation called')
  await sleep(3000)
  t.equal(h.calls.started, 1, 'three claim durations later, still one call')
  h.gate.resolve()
  await activeAndSettled(h, walletId)
  t.equal(h.calls.mostAtOnce, 1, 'never two runs at once')
  t.equal(h.calls.started, 1)
})

t.test('a takeover does not hand the new instance a task the old one still runs; the old one settles it', async (t) => {
  const h = await setUp(t)
  const first = await processManager(t, h)
  await until(async () => first.active, 10_000, 'first instance active')
  const second = await processManager(t, h)
  const walletId = await requestWallet(h.store)
  await until(async () => h.calls.started > 0, 10_000, 'wallet creation called')

  // The first instance's lease connection drops (it lives on and finishes what it runs); the second takes over.
  await terminateLockHolder(h.database.db, 'process-manager')
  await until(async () => second.active, 10_000, 'second instance took over')
  await sleep(2500)
  t.equal(h.calls.started, 1, 'the second instance did not start the running task again')

  h.gate.resolve()
  const task = await activeAndSettled(h, walletId)
  t.equal(task.last_error, null, 'the first instance settled it as done')
  t.equal(h.calls.mostAtOnce, 1, 'never two runs at once')
  t.equal(h.calls.started, 1)
})
