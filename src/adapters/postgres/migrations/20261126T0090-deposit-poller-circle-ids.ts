import { sql, type Kysely } from 'kysely'

// The deposit poller finds a Circle wallet's ledger wallet in the Circle-id read model (`circle_ids`,
// kind 'wallet'), so its own copy of that mapping, and the subscriber that kept it, go.
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`DROP TABLE circle_wallets`.execute(db)
  await sql`DELETE FROM checkpoints WHERE name = 'deposit-poller-wallets'`.execute(db)
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE TABLE circle_wallets (circle_wallet_id text PRIMARY KEY, wallet_id text NOT NULL);
    INSERT INTO circle_wallets (circle_wallet_id, wallet_id) SELECT circle_id, entity_id FROM circle_ids WHERE kind = 'wallet'
  `.execute(db)
}
