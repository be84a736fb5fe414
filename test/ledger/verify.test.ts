import t from 'tap'
import { PostgresEventStore } from '../../src/adapters/event-store/postgres.ts'
import { verificationMessage, verifyChain } from '../../src/ledger/verify.ts'
import { auditLog } from '../../src/ledger/audit.ts'
import { recordGaps } from '../../src/adapters/postgres/migrations/20261128T0210-audit-log-gaps.ts'
import { ProjectionRunner } from '../../src/subscriptions/projection-runner.ts'
import { finishRun, startRun } from '../../src/reconciliation/runs.ts'
import { testDatabase } from '../helpers/database.ts'
import { runLedger } from '../helpers/ledger.ts'
import { randomOperations } from '../helpers/random-operations.ts'
import { changeAuditHash, changeOneByteOfEvent, deleteAuditRow } from '../helpers/tamper.ts'

t.test('verify recomputes the chain from the store and names the first break exactly', async (t) => {
  const { db, pool } = await testDatabase(t)
  const store = new PostgresEventStore(pool, { pollIntervalMs: 50 })
  t.teardown(() => store.close())
  await randomOperations(store, { steps: 120, maxWallets: 4 })
  const { settle } = runLedger(t, store, db, { readModels: false })
  await settle()
  const head = (await store.head())!
  const total = store.distance(undefined, head)!

  const clean = await verifyChain({ db, store, pageSize: 37 })
  t.same({ ok: clean.ok, verified: clean.verified, position: clean.position }, { ok: true, verified: total, position: head }, 'an untouched log verifies, across pages')

  const { rows } = await pool.query<{ position: string }>(`SELECT position::text FROM events WHERE data ? 'amount' ORDER BY position LIMIT 1 OFFSET 5`)
  const target = rows[0]!.position
  const changed = await changeOneByteOfEvent(pool, target)
  let result = await verifyChain({ db, store, pageSize: 37 })
  t.match(result, { ok: false, position: String(BigInt(target) - 1n), break: { position: target, kind: 'data_changed', details: { fields: ['data.amount'] } } }, 'one changed byte of event data is found at its position')
  t.equal(result.verified, Number(target) - 1, 'everything before it verified')
  await changed.restore()
  t.ok((await verifyChain({ db, store })).ok, 'restored, it verifies again')

  const middle = String(BigInt(head) / 2n)
  const putBack = await deleteAuditRow(pool, middle)
  result = await verifyChain({ db, store, pageSize: 37 })
  t.match(result.break, { position: middle, kind: 'row_missing' }, 'a deleted audit row is found at its position')
  await putBack()

  const forged = await changeAuditHash(pool, middle)
  result = await verifyChain({ db, store, pageSize: 37 })
  t.match(result.break, { position: middle, kind: 'hash_mismatch', details: { field: 'hash' } }, 'a changed hash is found at its position')
  await forged()

  const lastRow = await deleteAuditRow(pool, head)
  result = await verifyChain({ db, store })
  t.match(result.break, { position: head, kind: 'row_missing' }, 'even the last row: the audit checkpoint says it was written')
  await lastRow()

  const progress: [number, number | undefined][] = []
  const ranged = await verifyChain({ db, store, from: '10', to: '20', onProgress: (done, total) => progress.push([done, total]) })
  t.same({ ok: ranged.ok, verified: ranged.verified, position: ranged.position }, { ok: true, verified: 11, position: '20' }, 'a range verifies from the row before it')
  t.same(progress.at(-1), [11, 11], 'its progress counts to the end of the range, not of the log')
  const beyond = await verifyChain({ db, store, from: '10', to: String(BigInt(head) + 100n) })
  t.equal(beyond.position, head, 'a range past the audit log stops at its end')
})

t.test('a reconciliation run\'s events are audited like every other: the chain has no hole where a run happened', async (t) => {
  const { db, pool } = await testDatabase(t)
  const store = new PostgresEventStore(pool, { pollIntervalMs: 50 })
  t.teardown(() => store.close())
  await randomOperations(store, { steps: 20, maxWallets: 2 })
  const run = await startRun(db, store, 'cli')
  await randomOperations(store, { steps: 20, maxWallets: 2 })
  await finishRun(db, store, run.id, { checked: { wallets: 2 } })
  const { settle } = runLedger(t, store, db, { readModels: false })
  await settle()

  const events = (await store.readAll({ maxCount: 100_000 })).events
  const audited = await db.selectFrom('audit_log').select(['position', 'type']).orderBy('position_key').execute()
  t.same(audited.map((r) => r.position), events.map((e) => e.position), 'one audit row per event, the run\'s included')
  t.same(audited.filter((r) => r.type.startsWith('Reconciliation')).map((r) => r.type), ['ReconciliationRunStarted', 'ReconciliationRunCompleted'])
  const result = await verifyChain({ db, store })
  t.same({ ok: result.ok, verified: result.verified, position: result.position }, { ok: true, verified: events.length, position: events.at(-1)!.position }, 'the chain verifies to the head')
})

t.test('an audit log written before it covered the reconciliation runs: their holes are passed over, counted, and nothing else is', async (t) => {
  const { db, pool } = await testDatabase(t)
  const store = new PostgresEventStore(pool, { pollIntervalMs: 50 })
  t.teardown(() => store.close())
  // The audit log as it was: the same projection (name, version, checkpoint) without the runs' types.
  const before = { ...auditLog, handles: auditLog.handles.filter((type) => !type.startsWith('Reconciliation')) }
  await randomOperations(store, { steps: 20, maxWallets: 2 })
  const early = await startRun(db, store, 'schedule')
  await finishRun(db, store, early.id, { checked: {} })
  await randomOperations(store, { steps: 10, maxWallets: 2 })
  const old = new ProjectionRunner({ projections: [before], store, db, name: 'audit-log' })
  old.start()
  await old.caughtUp((await store.head())!)
  await old.stop()
  const earlyPositions = (await store.readStream(`reconciliation-${early.id}`)).map((e) => e.position)

  const holed = await verifyChain({ db, store })
  t.match(holed, { ok: false, break: { kind: 'row_missing', position: earlyPositions[0] } }, 'without the record of the holes, the first is a break')
  // What the migration does on an upgraded database: the holes, through the audit checkpoint.
  await recordGaps(db as never)
  t.same(await db.selectFrom('audit_log_gaps').select('event_type').orderBy('event_type').execute(), [{ event_type: 'ReconciliationRunCompleted' }, { event_type: 'ReconciliationRunStarted' }])

  // From now on the runs are audited like everything else.
  const late = await startRun(db, store, 'schedule')
  await finishRun(db, store, late.id, { checked: {} })
  await randomOperations(store, { steps: 10, maxWallets: 2 })
  const { settle } = runLedger(t, store, db, { readModels: false })
  await settle()
  const events = (await store.readAll({ maxCount: 100_000 })).events
  const result = await verifyChain({ db, store, pageSize: 13 })
  t.same({ ok: result.ok, verified: result.verified, unaudited: result.unaudited, position: result.position }, { ok: true, verified: events.length - 2, unaudited: 2, position: events.at(-1)!.position }, 'the two early events passed over, every other one verified, the chain unbroken')
  t.match(verificationMessage(result), /; 2 reconciliation events from before the audit log covered them passed over$/)

  const latePosition = (await store.readStream(`reconciliation-${late.id}`))[0]!.position
  const putBack = await deleteAuditRow(pool, latePosition)
  t.match((await verifyChain({ db, store })).break, { kind: 'row_missing', position: latePosition }, 'a run after the holes without its row is a break')
  await putBack()
})
