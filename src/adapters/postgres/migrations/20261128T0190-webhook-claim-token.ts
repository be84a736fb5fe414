import { sql, type Kysely } from 'kysely'

/**
 * A token per claim of a webhook notification, as for process-manager tasks: only the worker holding
 * the claim may renew it or record how the notification went.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`ALTER TABLE webhook_inbox ADD COLUMN claim_token uuid`.execute(db)
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`ALTER TABLE webhook_inbox DROP COLUMN claim_token`.execute(db)
}
