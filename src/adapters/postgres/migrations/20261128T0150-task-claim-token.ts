import { sql, type Kysely } from 'kysely'

/**
 * A token per claim of a process-manager task: only the runner holding the claim may renew it or
 * settle the task, so a runner whose claim expired (or was taken over) cannot overwrite the newer
 * runner's outcome.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`ALTER TABLE pm_tasks ADD COLUMN claim_token uuid`.execute(db)
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`ALTER TABLE pm_tasks DROP COLUMN claim_token`.execute(db)
}
