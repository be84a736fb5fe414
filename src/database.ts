import type { CheckpointsTable } from './subscriptions/checkpoints.table.ts'
import type { IdempotencyKeysTable } from './http/plugins/idempotency.table.ts'
import type { CirclePendingDepositsTable, CirclePollMarksTable } from './process-manager/deposit-poller.table.ts'
import type { PmTasksTable } from './process-manager/tasks.table.ts'
import type { ReadModelTables } from './projections/tables.ts'
import type { DeadLettersTable } from './dead-letters/dead-letters.table.ts'
import type { WebhookInboxTable } from './webhooks/inbox.table.ts'
import type { AuditLogGapsTable } from './ledger/audit-gaps.table.ts'
import type { AuditLogTable } from './ledger/audit.table.ts'
import type { JournalAccountsTable, JournalEntriesTable, JournalOperationsTable, JournalPostingsTable } from './ledger/journal.table.ts'
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
  circle_poll_marks: CirclePollMarksTable
  circle_pending_deposits: CirclePendingDepositsTable
  webhook_inbox: WebhookInboxTable
  dead_letters: DeadLettersTable
  journal_operations: JournalOperationsTable
  journal_entries: JournalEntriesTable
  journal_postings: JournalPostingsTable
  journal_accounts: JournalAccountsTable
  audit_log: AuditLogTable
  audit_log_gaps: AuditLogGapsTable
  reconciliation_runs: ReconciliationRunsTable
  reconciliation_findings: ReconciliationFindingsTable
}
