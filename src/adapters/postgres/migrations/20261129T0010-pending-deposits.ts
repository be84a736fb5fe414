import { sql, type Kysely } from 'kysely'

/**
 * The deposit poller no longer holds its listing's mark back for a deposit still pending at Circle
 * (which made every poll list, and record again, everything since that deposit, for up to a day):
 * the mark moves to the newest transfer listed, and the deposits it could not record yet wait here,
 * each settled on a later poll (asked for by id) once it completes, or given up once it failed or
 * has waited too long.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE TABLE circle_pending_deposits (
      circle_transfer_id text PRIMARY KEY,
      circle_wallet_id   text NOT NULL,
      create_date        text NOT NULL,
      reason             text NOT NULL,
      listed_at          timestamptz NOT NULL DEFAULT now(),
      checked_at         timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX circle_pending_deposits_checked_at ON circle_pending_deposits (checked_at);
  `.execute(db)
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`DROP TABLE circle_pending_deposits`.execute(db)
}
