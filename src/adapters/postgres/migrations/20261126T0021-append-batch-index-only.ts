import { sql, type Kysely } from 'kysely'

/**
 * Every statement of append_batch finds its rows through a unique index. A plan cached while the
 * tables were small (a fresh database, statistics not yet gathered) would otherwise keep scanning
 * them whole for the life of the connection: 5-11 ms per batch of 32 in a fresh database.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`ALTER FUNCTION append_batch(integer[], text[], text[], integer[], uuid[], text[], jsonb[], jsonb[]) SET enable_seqscan = off`.execute(db)
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`ALTER FUNCTION append_batch(integer[], text[], text[], integer[], uuid[], text[], jsonb[], jsonb[]) RESET enable_seqscan`.execute(db)
}
