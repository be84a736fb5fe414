import type { CheckpointsTable } from './subscriptions/checkpoints.table.ts'
import type { IdempotencyKeysTable } from './http/plugins/idempotency.table.ts'
import type { PmTasksTable } from './process-manager/tasks.table.ts'
import type { ReadModelTables } from './projections/tables.ts'
import type { ReconciliationFindingsTable } from './reconciliation/findings.table.ts'
import type { ReconciliationRunsTable } from './reconciliation/runs.table.ts'

/**
 * Every table the service reads or writes through Kysely, composed from the modules that own them:
 * checkpoints (subscriptions), idempotency keys (HTTP), tasks (process manager), read models (projections).
 */
export interface Database extends ReadModelTables {
  checkpoints: CheckpointsTable
  idempotency_keys: IdempotencyKeysTable
  pm_tasks: PmTasksTable
  reconciliation_runs: ReconciliationRunsTable
  reconciliation_findings: ReconciliationFindingsTable
}
