import pino from 'pino'
import t from 'tap'
import { beginRun, type ReconcilerDeps } from '../../../src/reconciliation/reconciler.ts'
import { addFindings, type Run } from '../../../src/reconciliation/runs.ts'
import { auth, testApp } from '../../helpers/app.ts'
import { simulatedCircle, until } from '../../helpers/circle.ts'
import { testDatabase } from '../../helpers/database.ts'

t.test('an admin starts a run (202), reads it with its findings page by page; auditors read, backends may not', async (t) => {
  const database = await testDatabase(t)
  const { circle } = await simulatedCircle(t)
  let deps: ReconcilerDeps | undefined
  const startReconciliation = async (): Promise<Run> => (await beginRun(deps!, { staleAfterMs: 0, graceMs: 0 }, 'http')).run
  const { app, store } = await testApp(t, { startReconciliation }, database)
  deps = { db: database.db, pool: database.pool, store, circle, logger: pino({ level: 'silent' }) }

  const started = await app.inject({ method: 'POST', url: '/admin/reconciliation/runs', headers: auth.admin })
  t.equal(started.statusCode, 202, started.body)
  const run = started.json() as Run
  t.match(run, { trigger: 'http', status: 'running', outcome: null })
  t.equal((await app.inject({ method: 'POST', url: '/admin/reconciliation/runs', headers: auth.auditor })).statusCode, 403, 'auditors may not start runs')

  const finished = await until(async () => {
    const res = await app.inject({ method: 'GET', url: `/admin/reconciliation/runs/${run.id}`, headers: auth.auditor })
    const body = res.json() as Run & { items: unknown[] }
    return body.status === 'completed' ? body : undefined
  }, 15_000, 'run completed')
  t.match(finished, { outcome: 'clean', findings: 0, items: [], nextCursor: null, treasuryBalance: '1000000.00' })

  await addFindings(
    database.db,
    run.id,
    Array.from({ length: 3 }, (_, i) => ({ kind: 'stale_operation' as const, subject: `mint-${i}`, details: { ageSeconds: i } })),
  )
  const first = (await app.inject({ method: 'GET', url: `/admin/reconciliation/runs/${run.id}?limit=2`, headers: auth.admin })).json() as { items: { subject: string }[]; nextCursor: string }
  t.equal(first.items.length, 2)
  const second = (await app.inject({ method: 'GET', url: `/admin/reconciliation/runs/${run.id}?limit=2&cursor=${first.nextCursor}`, headers: auth.admin })).json() as { items: { subject: string }[]; nextCursor: null }
  t.equal(second.items.length, 1)
  t.equal(second.nextCursor, null)
  t.same(new Set([...first.items, ...second.items].map((f) => f.subject)), new Set(['mint-0', 'mint-1', 'mint-2']), 'every finding once across the pages')
  const filtered = (await app.inject({ method: 'GET', url: `/admin/reconciliation/runs/${run.id}?kind=balance_mismatch`, headers: auth.admin })).json() as { items: unknown[] }
  t.same(filtered.items, [], 'filtered by kind')

  const list = await app.inject({ method: 'GET', url: '/admin/reconciliation/runs', headers: auth.auditor })
  t.equal(list.statusCode, 200)
  t.same((list.json() as { items: Run[] }).items.map((r) => r.id), [run.id])

  const backend = await app.inject({ method: 'GET', url: '/admin/reconciliation/runs', headers: auth.backend })
  t.equal(backend.statusCode, 403)
  t.equal((backend.json() as { error: { code: string } }).error.code, 'forbidden')
  const missing = await app.inject({ method: 'GET', url: '/admin/reconciliation/runs/6f1b7a4e-0000-4000-8000-000000000000', headers: auth.admin })
  t.equal(missing.statusCode, 404)
  const badKind = await app.inject({ method: 'GET', url: `/admin/reconciliation/runs/${run.id}?kind=nope`, headers: auth.admin })
  t.equal(badKind.statusCode, 400)
  t.ok((badKind.json() as { error: { code: string } }).error.code)
  const badCursor = await app.inject({ method: 'GET', url: `/admin/reconciliation/runs/${run.id}?cursor=zzz`, headers: auth.admin })
  t.equal(badCursor.statusCode, 400)
  // Forged cursors that decode: a date PostgreSQL would not cast, and an id that is not a uuid on a uuid table.
  const forge = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url')
  for (const [url, what] of [
    [`/admin/reconciliation/runs/${run.id}?cursor=${forge(['1', run.id])}`, 'findings, a date of "1"'],
    [`/admin/reconciliation/runs?cursor=${forge(['2026-11-26T10:00:00.000Z', 'x'])}`, 'runs, an id that is not a uuid'],
    [`/admin/dead-letters?cursor=${forge(['2026-11-26T10:00:00.000Z', 'x'])}`, 'dead letters, an id that is not a uuid'],
  ] as const) {
    const res = await app.inject({ method: 'GET', url, headers: auth.admin })
    t.equal(res.statusCode, 400, what)
    t.equal((res.json() as { error: { code: string } }).error.code, 'invalid_cursor', what)
  }
})

t.test('a second run while one is in progress is refused with 409; without a reconciler, 503', async (t) => {
  const database = await testDatabase(t)
  let release: () => void = () => undefined
  const { RunInProgress } = await import('../../../src/reconciliation/reconciler.ts')
  let busy = false
  const startReconciliation = async (): Promise<Run> => {
    if (busy) throw new RunInProgress('a reconciliation run is in progress')
    busy = true
    void new Promise<void>((r) => (release = r))
    return { id: '6f1b7a4e-0000-4000-8000-000000000001', trigger: 'http', status: 'running', outcome: null, startedAt: new Date().toISOString(), finishedAt: null, listedFrom: null, highWaterMark: null, checked: {}, counts: {}, findings: 0, treasuryBalance: null, error: null }
  }
  const { app } = await testApp(t, { startReconciliation }, database)
  t.equal((await app.inject({ method: 'POST', url: '/admin/reconciliation/runs', headers: auth.admin })).statusCode, 202)
  const again = await app.inject({ method: 'POST', url: '/admin/reconciliation/runs', headers: auth.admin })
  t.equal(again.statusCode, 409)
  t.equal((again.json() as { error: { code: string } }).error.code, 'run_in_progress')
  release()
  const bare = await testApp(t, {})
  const none = await bare.app.inject({ method: 'POST', url: '/admin/reconciliation/runs', headers: auth.admin })
  t.equal(none.statusCode, 503)
})
