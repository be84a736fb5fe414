import { randomUUID } from 'node:crypto'
import t from 'tap'
import { CircleSdkAdapter } from '../src/adapters/circle/sdk.ts'
import { PostgresEventStore } from '../src/adapters/event-store/postgres.ts'
import { createWallet } from '../src/commands/create-wallet.ts'
import { execute } from '../src/commands/handler.ts'
import { fold } from '../src/events/fold.ts'
import { requestMint } from '../src/commands/request-mint.ts'
import { mint } from '../src/events/mint.ts'
import { parseAmount } from '../src/events/money.ts'
import { wallet } from '../src/events/wallet.ts'
import { Metrics } from '../src/metrics.ts'
import { ProcessManager } from '../src/process-manager/process-manager.ts'
import { queueStats, wake } from '../src/process-manager/tasks.ts'
import { simulatedCircle, until } from './helpers/circle.ts'
import { meta } from './helpers/commands.ts'
import { testDatabase } from './helpers/database.ts'
import { capturedLogger } from './helpers/logs.ts'

const value = (text: string, name: string, labels: string) => Number(new RegExp(`^${name}\\{${labels}\\} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN)

t.test('business metrics: operations by kind and status, Circle calls by operation and outcome; the story of a mint in the log', async (t) => {
  const database = await testDatabase(t)
  const store = new PostgresEventStore(database.pool, { pollIntervalMs: 50 })
  const { url, issuer } = await simulatedCircle(t)
  const metrics = new Metrics()
  const { logger, lines } = capturedLogger('debug')
  const circle = new CircleSdkAdapter({ apiKey: 'SIM', baseUrl: url, timeoutMs: 2000, backoff: { baseMs: 5, maxMs: 20 }, ratePerSecond: 500, maxAttempts: 4, logger, metrics })
  const pm = new ProcessManager({ store, db: database.db, pool: database.pool, circle, issuer, logger, metrics, pollMs: 50, tickMs: 20, leaseRetryMs: 100 })
  pm.start()
  t.teardown(async () => {
    await pm.stop()
    await store.close()
  })

  const walletId = randomUUID()
  await execute(store, createWallet, { walletId, ownerId: 'o' }, meta())
  await until(async () => (await fold(store, wallet, walletId)).state.status === 'active', 10_000, 'wallet active')
  const mintId = randomUUID()
  await execute(store, requestMint, { mintId, walletId, amount: parseAmount('3') }, meta())
  await until(async () => (await fold(store, mint, mintId)).state.status === 'completed', 10_000, 'mint completed')
  // The process manager logs and counts an outcome once its append has returned, a moment after the
  // event can be read.
  await until(async () => lines.some((l) => l.operationId === mintId && l.msg === 'mint completed'), 10_000, 'completion logged')

  const text = await metrics.registry.metrics()
  t.equal(value(text, 'ledger_operations_total', 'kind="mint",status="processing"'), 1)
  t.equal(value(text, 'ledger_operations_total', 'kind="mint",status="completed"'), 1)
  t.equal(value(text, 'ledger_operations_total', 'kind="wallet",status="active"'), 1)
  t.ok(value(text, 'circle_calls_total', 'operation="createTransfer",outcome="ok"') >= 1, 'Circle calls by operation and outcome')
  t.ok(value(text, 'circle_calls_total', 'operation="createWallet",outcome="ok"') >= 1)
  t.match(text, /circle_call_duration_seconds_count\{operation="createTransfer"\} \d+/)

  const story = lines.filter((l) => l.operationId === mintId).map((l) => l.msg)
  t.same(story.filter((m) => m === 'mint submitted').length, 1, 'submitted once')
  t.same(story.filter((m) => m === 'mint completed').length, 1, 'completed once')
  const submitted = lines.find((l) => l.operationId === mintId && l.msg === 'mint submitted')
  t.ok(submitted?.circleTransferId, 'with Circle’s id')
  const call = lines.find((l) => l.operation === 'createTransfer' && l.msg === 'circle createTransfer 201')
  t.match(call, { level: 20, outcome: 'ok', status: 201 }, 'Circle calls at debug with status')
  t.type(call?.durationMs, 'number')
})

t.test('queue depth and the age of the oldest due task come from the task table', async (t) => {
  const database = await testDatabase(t)
  const metrics = new Metrics()
  metrics.trackQueue(() => queueStats(database.db))
  t.same(await queueStats(database.db), { due: 0, scheduled: 0, oldestDueSeconds: 0 })
  await wake(database.db, ['mint-a', 'redeem-b'])
  await database.db.updateTable('pm_tasks').set({ due_at: new Date(Date.now() - 5000) }).where('stream', '=', 'mint-a').execute()
  await database.db.insertInto('pm_tasks').values({ stream: 'transfer-c', kind: 'transfer', entity_id: 'c', due_at: new Date(Date.now() + 60_000), locked_until: null, last_error: null }).execute()
  const text = await metrics.registry.metrics()
  t.equal(value(text, 'process_manager_tasks', 'state="due"'), 2)
  t.equal(value(text, 'process_manager_tasks', 'state="scheduled"'), 1)
  const age = Number(/^process_manager_oldest_due_task_age_seconds (\S+)$/m.exec(text)?.[1])
  t.ok(age >= 4.5 && age < 60, `oldest due task is about 5 s old (${age})`)
})
