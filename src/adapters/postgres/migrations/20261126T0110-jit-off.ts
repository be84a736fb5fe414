import { sql, type Kysely } from 'kysely'

// JIT off for every new session on this database: every statement the service sends is a short
// OLTP one, and a plan the planner overcosts (stale statistics on a fresh table) made PostgreSQL
// JIT-compile a 0.1 ms read for 70 ms. A database setting, not a startup option of the driver:
// PgBouncer refuses unknown startup parameters, and a DATABASE_URL's own `options` would override
// it. A role that may not alter the database keeps the server's default (a notice, not a failure).
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    DO $$ BEGIN
      EXECUTE format('ALTER DATABASE %I SET jit = off', current_database());
    EXCEPTION WHEN insufficient_privilege THEN
      RAISE NOTICE 'not the owner of database %: jit stays at the server default', current_database();
    END $$
  `.execute(db)
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`DO $$ BEGIN EXECUTE format('ALTER DATABASE %I RESET jit', current_database()); END $$`.execute(db)
}
