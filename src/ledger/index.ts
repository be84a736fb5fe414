import type pg from 'pg'
import type { Logger } from 'pino'
import type { Db } from '../adapters/postgres/database.ts'
import type { EventStore } from '../events/event-store.ts'
import type { Projection } from '../subscriptions/projection.ts'
import { ProjectionRunner } from '../subscriptions/projection-runner.ts'
import { auditLog } from './audit.ts'
import { journal } from './journal.ts'

/** The journal and the audit log; each runs on its own, so rebuilding one leaves the other and the read models alone. */
export const ledgerProjections = [journal, auditLog] as Projection[]

export interface LedgerRunners {
  journal: ProjectionRunner
  audit: ProjectionRunner
  start(): void
  stop(): Promise<void>
  /** Resolves once both include `position`. */
  caughtUp(position: string, timeoutMs?: number): Promise<void>
}

export function ledgerRunners(options: { store: EventStore; db: Db; leasePool?: pg.Pool; logger?: Logger }): LedgerRunners {
  const common = { store: options.store, db: options.db, ...(options.leasePool ? { leasePool: options.leasePool } : {}), ...(options.logger ? { logger: options.logger } : {}) }
  const runners = {
    journal: new ProjectionRunner({ ...common, projections: [journal as Projection], name: 'journal' }),
    audit: new ProjectionRunner({ ...common, projections: [auditLog as Projection], name: 'audit-log' }),
  }
  return {
    ...runners,
    start() {
      runners.journal.start()
      runners.audit.start()
    },
    async stop() {
      await Promise.all([runners.journal.stop(), runners.audit.stop()])
    },
    async caughtUp(position, timeoutMs) {
      await Promise.all([runners.journal.caughtUp(position, timeoutMs), runners.audit.caughtUp(position, timeoutMs)])
    },
  }
}
