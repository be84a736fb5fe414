import { sql, type Kysely } from 'kysely'

/**
 * The process manager asks every few seconds when a webhook was last processed (`max(processed_at)`,
 * to poll Circle less while webhooks arrive). The inbox keeps every notification it was sent, so
 * without an index that question reads the whole table each time; with this one it reads one entry.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`CREATE INDEX webhook_inbox_processed_at ON webhook_inbox (processed_at) WHERE processed_at IS NOT NULL`.execute(db)
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`DROP INDEX webhook_inbox_processed_at`.execute(db)
}
