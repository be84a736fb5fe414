import { sql, type Kysely } from 'kysely'

/**
 * The dead letter an admin last replayed or discarded for a task. The attempt that opened that dead
 * letter may still be running when the admin acts (the dead letter is listed a moment before its task
 * settles); its settle then finds the admin's action here instead of parking the task behind it.
 *
 * A task's `dead_letter_id` now names its open dead letter until an admin acts, and a new failure
 * reuses it. Before, a discard left it set, and a retry or a success cleared it while the dead letter
 * stayed open: the first are cleared here, the second linked again to their newest open dead letter.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`ALTER TABLE pm_tasks ADD COLUMN IF NOT EXISTS resolved_dead_letter_id uuid`.execute(db)
  await sql`
    UPDATE pm_tasks t SET dead_letter_id = NULL, resolved_dead_letter_id = d.id
    FROM dead_letters d
    WHERE d.id = t.dead_letter_id AND d.status <> 'open'`.execute(db)
  await sql`
    UPDATE pm_tasks t SET dead_letter_id = d.id
    FROM (
      SELECT DISTINCT ON (subject) id, subject FROM dead_letters
      WHERE kind = 'task' AND status = 'open'
      ORDER BY subject, created_at DESC, id
    ) d
    WHERE t.stream = d.subject AND t.dead_letter_id IS NULL`.execute(db)
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`ALTER TABLE pm_tasks DROP COLUMN resolved_dead_letter_id`.execute(db)
}
