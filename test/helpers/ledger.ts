import type { Test } from 'tap'
import type { Db } from '../../src/adapters/postgres/database.ts'
import type { EventStore } from '../../src/events/event-store.ts'
import { ledgerRunners } from '../../src/ledger/index.ts'
import { readModels } from '../../src/projections/index.ts'
import { ProjectionRunner } from '../../src/subscriptions/projection-runner.ts'

/** The journal and audit runners (and, unless given, the read models) on a test's store and database. */
export function runLedger(t: Test, store: EventStore, db: Db, options: { readModels?: ProjectionRunner | false } = {}) {
  const ledger = ledgerRunners({ store, db })
  ledger.start()
  const models = options.readModels === false ? undefined : (options.readModels ?? new ProjectionRunner({ projections: readModels, store, db }))
  if (models && options.readModels === undefined) models.start()
  t.teardown(async () => {
    await ledger.stop()
    if (models && options.readModels === undefined) await models.stop()
  })
  /** Waits until the ledger (and the read models) include every event written so far. */
  async function settle(timeoutMs = 60_000): Promise<void> {
    const head = await store.head()
    if (head === undefined) return
    await Promise.all([ledger.caughtUp(head, timeoutMs), models?.caughtUp(head, timeoutMs)])
  }
  return { ledger, settle }
}
