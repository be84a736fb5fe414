import { sql, type Kysely } from 'kysely'

// What a run learnt about the treasury: Circle's business balance and the range its starting
// balance must lie in given the ledger's operations (micro-unit strings), compared run to run.
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`ALTER TABLE reconciliation_runs ADD COLUMN treasury jsonb`.execute(db)
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`ALTER TABLE reconciliation_runs DROP COLUMN treasury`.execute(db)
}
