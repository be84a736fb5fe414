import { sql, type Kysely } from 'kysely'

// Read models: rebuilt from the event store at will, so nothing here is the source of truth.
// Each document table keeps the folded state plus the columns its lists filter and sort on.
const documentColumns = sql`
  id         text PRIMARY KEY,
  state      jsonb NOT NULL,
  created_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL,
  position   text NOT NULL,
  revision   integer NOT NULL`

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE TABLE wallets (${documentColumns},
      owner_id text NOT NULL, status text NOT NULL, circle_wallet_id text,
      available numeric(38,0) NOT NULL, reserved numeric(38,0) NOT NULL);
    CREATE INDEX wallets_owner ON wallets (owner_id, created_at DESC, id DESC);
    CREATE INDEX wallets_created ON wallets (created_at DESC, id DESC);

    CREATE TABLE bank_accounts (${documentColumns}, owner_id text NOT NULL, status text NOT NULL, circle_wire_id text);
    CREATE INDEX bank_accounts_owner ON bank_accounts (owner_id, created_at DESC, id DESC);
    CREATE INDEX bank_accounts_created ON bank_accounts (created_at DESC, id DESC);

    CREATE TABLE cards (${documentColumns}, wallet_id text NOT NULL, status text NOT NULL, issuer_card_id text);
    CREATE INDEX cards_wallet ON cards (wallet_id, created_at DESC, id DESC);
    CREATE INDEX cards_status ON cards (status, created_at DESC, id DESC);
    CREATE INDEX cards_created ON cards (created_at DESC, id DESC);
  `.execute(db)
  for (const table of ['mints', 'redeems', 'transfers', 'deposits']) {
    const extra =
      table === 'redeems' ? sql`, bank_account_id text NOT NULL` : table === 'transfers' ? sql`, destination_wallet_id text` : sql``
    await sql`
      CREATE TABLE ${sql.table(table)} (${documentColumns},
        wallet_id text NOT NULL, status text NOT NULL, amount numeric(38,0) NOT NULL, circle_id text ${extra});
      CREATE INDEX ${sql.id(`${table}_wallet`)} ON ${sql.table(table)} (wallet_id, created_at DESC, id DESC);
      CREATE INDEX ${sql.id(`${table}_status`)} ON ${sql.table(table)} (status, created_at DESC, id DESC);
      CREATE INDEX ${sql.id(`${table}_created`)} ON ${sql.table(table)} (created_at DESC, id DESC);
    `.execute(db)
  }
  await sql`
    CREATE TABLE circle_ids (
      circle_id  text PRIMARY KEY,
      kind       text NOT NULL,
      stream     text NOT NULL,
      entity_id  text NOT NULL,
      created_at timestamptz NOT NULL,
      position   text NOT NULL);
    CREATE INDEX circle_ids_stream ON circle_ids (stream);

    CREATE TABLE wallet_operations (
      wallet_id    text NOT NULL,
      operation_id text NOT NULL,
      kind         text NOT NULL,
      direction    text NOT NULL,
      status       text NOT NULL,
      amount       numeric(38,0) NOT NULL,
      created_at   timestamptz NOT NULL,
      updated_at   timestamptz NOT NULL,
      position     text NOT NULL,
      PRIMARY KEY (wallet_id, operation_id));
    CREATE INDEX wallet_operations_timeline ON wallet_operations (wallet_id, created_at DESC, operation_id DESC);
    CREATE INDEX wallet_operations_operation ON wallet_operations (operation_id);
  `.execute(db)
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`DROP TABLE wallets, bank_accounts, cards, mints, redeems, transfers, deposits, circle_ids, wallet_operations`.execute(db)
}
