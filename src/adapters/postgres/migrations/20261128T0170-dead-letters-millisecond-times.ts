import { sql, type Kysely } from 'kysely'

/**
 * A dead letter's creation time in whole milliseconds, as a list cursor carries it. With the
 * microseconds of `now()`, a page ending on a dead letter made at 12:00:00.123456 gave a cursor of
 * 12:00:00.123, and the next page (rows before the cursor) skipped every older row of that same
 * millisecond, such as the others opened in the same transaction.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`ALTER TABLE dead_letters ALTER COLUMN created_at SET DEFAULT date_trunc('milliseconds', now())`.execute(db)
  await sql`UPDATE dead_letters SET created_at = date_trunc('milliseconds', created_at) WHERE created_at <> date_trunc('milliseconds', created_at)`.execute(db)
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`ALTER TABLE dead_letters ALTER COLUMN created_at SET DEFAULT now()`.execute(db)
}
