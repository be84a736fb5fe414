import type { ColumnType } from 'kysely'

/** Work that kept failing (webhook notifications and process-manager tasks), for admins to replay or discard. */
export interface DeadLettersTable {
  id: string
  kind: 'webhook' | 'task'
  /** The inbox notification id, or the task's operation stream. */
  subject: string
  /** The notification type, or the task kind. */
  detail: string
  attention: string | null
  error: string
  attempts: number
  status: ColumnType<'open' | 'replayed' | 'discarded', 'open' | undefined, 'open' | 'replayed' | 'discarded'>
  resolved_by: string | null
  reason: string | null
  resolved_at: Date | null
  created_at: ColumnType<Date, Date | string | undefined, never>
}
