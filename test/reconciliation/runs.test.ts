import t from 'tap'
import { MemoryEventStore } from '../../src/adapters/event-store/memory.ts'
import { addFindings, alreadyReported, finishRun, startRun, type Finding } from '../../src/reconciliation/runs.ts'
import { testDatabase } from '../helpers/database.ts'

t.test('a run with more findings than one statement has parameters for stores them all; earlier reports are found among more ids than that', async (t) => {
  const { db } = await testDatabase(t)
  const store = new MemoryEventStore()
  const first = await startRun(db, store, 'cli')
  // 12,000 findings of seven parameters each: over PostgreSQL's 65,535 in one INSERT.
  const mismatches: Finding[] = Array.from({ length: 12_000 }, (_, i) => ({ kind: 'balance_mismatch', subject: `wallet-${i}`, details: { ledger: '1.00', circle: '0.00' } }))
  await addFindings(db, first.id, mismatches)
  await addFindings(db, first.id, [{ kind: 'unknown_transfer', subject: 'circle transfer ct-7', circleId: 'ct-7', details: {} }])
  const done = await finishRun(db, store, first.id, { checked: { wallets: 12_000 } })
  t.match(done, { outcome: 'mismatches', findings: 12_001, counts: { balance_mismatch: 12_000, unknown_transfer: 1 } })

  const second = await startRun(db, store, 'cli')
  // 70,000 of Circle's ids, one of them reported by the first run.
  const ids = Array.from({ length: 70_000 }, (_, i) => `ct-${i}`)
  t.same([...(await alreadyReported(db, second.id, ids))], ['ct-7'], 'the one reported before is found')
  t.same([...(await alreadyReported(db, first.id, ids))], [], "a run's own reports do not count")
})
