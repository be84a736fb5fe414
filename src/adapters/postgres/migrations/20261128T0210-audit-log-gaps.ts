import { sql, type Kysely } from 'kysely'

/** Event types the audit log's first releases did not handle: the reconciliation runs'. */
export const UNAUDITED_BEFORE_FIX = ['ReconciliationRunStarted', 'ReconciliationRunCompleted']

/**
 * The audit log once left the reconciliation runs' events out (their stream was missing from the
 * list of event types it handles): its checkpoint moved past them without rows, and `verify`
 * reported each as `row_missing`. It handles them now. Rather than rebuild the log (which would
 * rewrite every hash after the first run, and with it the heads already published), the holes are
 * recorded here: for each such type, the position key through which its events have no row.
 * `verify` passes over those events (counted as not audited) and checks everything else as before.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`CREATE TABLE audit_log_gaps (event_type text PRIMARY KEY, through_key text NOT NULL)`.execute(db)
  await recordGaps(db)
}

/**
 * One row per type, through the audit log's checkpoint now; none on a database it has not projected.
 * The key is `positionKey`'s format written out in SQL: a migration stays as it was when it ran.
 */
export async function recordGaps(db: Kysely<unknown>): Promise<void> {
  await sql`
    INSERT INTO audit_log_gaps (event_type, through_key)
    SELECT t, CASE WHEN c.position ~ '^[0-9]+$' THEN lpad(c.position, 20, '0') ELSE c.position END
    FROM checkpoints c, unnest(${UNAUDITED_BEFORE_FIX}::text[]) AS t
    WHERE c.name = 'projection:audit-log@v1' AND c.position IS NOT NULL
    ON CONFLICT (event_type) DO NOTHING`.execute(db)
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`DROP TABLE audit_log_gaps`.execute(db)
}
