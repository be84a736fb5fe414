import { sql, type Kysely } from 'kysely'

// No planner statistics for the audit log's columns that no query filters, sorts or joins on: the
// event's documents (data, metadata), its hashes and its unique ids. Every read of the service goes
// by position_key; the columns an operator would filter by in a query of their own (stream, type,
// actor, correlation_id, recorded_at, position) keep theirs. Gathering the eight was half of each
// ANALYZE of the table (0.35 of 0.65 s at 200,000 rows), which a rebuild runs before its swap; a
// rebuild's twin keeps these targets. Down resets the eight to the default.
const UNSAMPLED = ['data', 'metadata', 'prev_hash', 'hash', 'event_id', 'request_id', 'idempotency_key', 'causation_id']

const setTargets = (target: number) =>
  sql`ALTER TABLE audit_log ${sql.join(UNSAMPLED.map((column) => sql`ALTER COLUMN ${sql.id(column)} SET STATISTICS ${sql.raw(String(target))}`))}`

export async function up(db: Kysely<unknown>): Promise<void> {
  await setTargets(0).execute(db)
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await setTargets(-1).execute(db)
}
