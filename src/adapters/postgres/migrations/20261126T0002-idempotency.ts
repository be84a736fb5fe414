import { sql, type Kysely } from 'kysely'

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE TABLE idempotency_keys (
      principal       text NOT NULL,
      key             text NOT NULL,
      request_hash    text NOT NULL,
      state           text NOT NULL CHECK (state IN ('in_flight', 'done')),
      response_status integer,
      response_body   jsonb,
      response_headers jsonb,
      created_at      timestamptz NOT NULL DEFAULT now(),
      locked_until    timestamptz NOT NULL,
      expires_at      timestamptz NOT NULL,
      PRIMARY KEY (principal, key)
    );
    CREATE INDEX idempotency_keys_expires_at ON idempotency_keys (expires_at);
  `.execute(db)
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`DROP TABLE idempotency_keys`.execute(db)
}
