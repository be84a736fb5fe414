import { sql, type Kysely } from 'kysely'

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE TABLE circle_wallets (
      circle_wallet_id text PRIMARY KEY,
      wallet_id        text NOT NULL
    );
    CREATE TABLE circle_poll_marks (
      name       text PRIMARY KEY,
      mark       text NOT NULL,
      updated_at timestamptz NOT NULL DEFAULT now()
    );
  `.execute(db)
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`DROP TABLE circle_poll_marks; DROP TABLE circle_wallets`.execute(db)
}
