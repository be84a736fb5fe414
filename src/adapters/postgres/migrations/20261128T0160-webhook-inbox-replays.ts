import { sql, type Kysely } from 'kysely'

/**
 * How many times an admin has replayed a notification's dead letter. A dead letter's id derives from
 * it, so opening one again after a half-done attempt repeats the same dead letter, while a
 * notification that fails again after a replay gets a new one.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`ALTER TABLE webhook_inbox ADD COLUMN replays integer NOT NULL DEFAULT 0`.execute(db)
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`ALTER TABLE webhook_inbox DROP COLUMN replays`.execute(db)
}
