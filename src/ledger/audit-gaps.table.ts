/**
 * Events an earlier release of the audit log left without a row: those of `event_type` at position
 * keys up to `through_key` (see the migration 20261128T0210-audit-log-gaps). Written once, by the
 * migration; `verify` reads it.
 */
export interface AuditLogGapsTable {
  event_type: string
  through_key: string
}
