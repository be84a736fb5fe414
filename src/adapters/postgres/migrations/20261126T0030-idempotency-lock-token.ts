import { sql, type Kysely } from 'kysely'

/** A token per attempt: a request may finish (store or drop) only the in-flight row it still owns. */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`ALTER TABLE idempotency_keys ADD COLUMN lock_token uuid`.execute(db)
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`ALTER TABLE idempotency_keys DROP COLUMN lock_token`.execute(db)
}
