import { sql, type Kysely } from 'kysely'

/**
 * The dead letter an admin last replayed or discarded for a task. The attempt that opened that dead
 * letter may still be running when the admin acts (the dead letter is listed a moment before its task
 * settles); its settle then finds the admin's action here and keeps it instead of parking the task.
 *
 * A task's `dead_letter_id` now names its open dead letter, which a new failure reuses. A discard
 * used to leave it set: those are cleared here, so no task is parked behind a closed dead letter.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`ALTER TABLE pm_tasks ADD COLUMN IF NOT EXISTS resolved_dead_letter_id uuid`.execute(db)
  await sql`
    UPDATE pm_tasks t SET dead_letter_id = NULL, resolved_dead_letter_id = d.id
    FROM dead_letters d
    WHERE d.id = t.dead_letter_id AND d.status <> 'open'`.execute(db)
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`ALTER TABLE pm_tasks DROP COLUMN resolved_dead_letter_id`.execute(db)
}
