import { sql, type Kysely } from 'kysely'

// The money journal and the hash-chained audit log: projections of the event store, rebuilt at will.
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE TABLE journal_operations (
      operation_id text PRIMARY KEY,
      kind         text NOT NULL,
      wallet_id    text NOT NULL,
      amount       numeric(38,0) NOT NULL,
      counterparty text NOT NULL
    );
    CREATE TABLE journal_entries (
      position_key   text COLLATE "C" PRIMARY KEY,
      position       text NOT NULL,
      stream         text NOT NULL,
      revision       integer NOT NULL,
      event_id       uuid NOT NULL,
      event_type     text NOT NULL,
      operation_id   text NOT NULL,
      operation_kind text NOT NULL,
      description    text NOT NULL,
      actor          text NOT NULL,
      request_id     text,
      circle_id      text,
      booked_at      timestamptz NOT NULL
    );
    CREATE INDEX journal_entries_booked ON journal_entries (booked_at, position_key);
    CREATE TABLE journal_postings (
      position_key  text COLLATE "C" NOT NULL,
      seq           smallint NOT NULL,
      position      text NOT NULL,
      account       text NOT NULL,
      wallet_id     text,
      amount        numeric(38,0) NOT NULL,
      balance_after numeric(38,0) NOT NULL,
      booked_at     timestamptz NOT NULL,
      PRIMARY KEY (position_key, seq)
    );
    CREATE INDEX journal_postings_account ON journal_postings (account, position_key);
    CREATE INDEX journal_postings_wallet ON journal_postings (wallet_id, position_key) WHERE wallet_id IS NOT NULL;
    CREATE TABLE journal_accounts (
      account           text PRIMARY KEY,
      wallet_id         text,
      balance           numeric(38,0) NOT NULL,
      postings          bigint NOT NULL,
      last_position_key text COLLATE "C" NOT NULL
    );
    CREATE TABLE audit_log (
      position_key    text COLLATE "C" PRIMARY KEY,
      position        text NOT NULL,
      stream          text NOT NULL,
      revision        integer NOT NULL,
      event_id        uuid NOT NULL,
      type            text NOT NULL,
      data            jsonb NOT NULL,
      metadata        jsonb NOT NULL,
      actor           text NOT NULL,
      request_id      text,
      idempotency_key text,
      correlation_id  text NOT NULL,
      causation_id    text NOT NULL,
      recorded_at     timestamptz NOT NULL,
      prev_hash       char(64) NOT NULL,
      hash            char(64) NOT NULL
    );
  `.execute(db)
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`DROP TABLE audit_log, journal_accounts, journal_postings, journal_entries, journal_operations`.execute(db)
}
