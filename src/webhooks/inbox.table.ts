import type { ColumnType, Generated } from 'kysely'

/** Verified Circle notifications, one row per notification id (v2) or SNS MessageId (v1): duplicates collapse here. */
export interface WebhookInboxTable {
  id: string
  scheme: 'v2' | 'sns'
  /** Circle's notificationType: `transfers`, `payouts`, `wire`, `deposits`, `cards`, `webhooks.test`, ... */
  notification_type: string
  /** The resource the notification carries, as Circle sent it. */
  resource: ColumnType<unknown, string, string>
  /** pending -> processed | dead */
  status: ColumnType<'pending' | 'processed' | 'dead', 'pending' | 'processed' | 'dead' | undefined, 'pending' | 'processed' | 'dead'>
  attempts: Generated<number>
  next_attempt_at: ColumnType<Date, Date | string | undefined, Date | string>
  locked_until: Date | null
  /** The current claim's token: only its holder may renew the claim or record the outcome. */
  claim_token: ColumnType<string | null, string | null | undefined, string | null>
  last_error: string | null
  dead_letter_id: string | null
  /** Replays of its dead letters: a new run of failures after a replay gets a new dead letter. */
  replays: Generated<number>
  received_at: ColumnType<Date, Date | string | undefined, never>
  processed_at: Date | null
}
