import { sql, type Kysely } from 'kysely'

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE TABLE webhook_inbox (
      id                text PRIMARY KEY,
      scheme            text NOT NULL,
      notification_type text NOT NULL,
      resource          jsonb NOT NULL,
      status            text NOT NULL DEFAULT 'pending',
      attempts          integer NOT NULL DEFAULT 0,
      next_attempt_at   timestamptz NOT NULL DEFAULT now(),
      locked_until      timestamptz,
      last_error        text,
      dead_letter_id    uuid,
      received_at       timestamptz NOT NULL DEFAULT now(),
      processed_at      timestamptz
    );
    CREATE INDEX webhook_inbox_due ON webhook_inbox (next_attempt_at) WHERE status = 'pending';
    CREATE INDEX webhook_inbox_received ON webhook_inbox (received_at);

    CREATE TABLE dead_letters (
      id          uuid PRIMARY KEY,
      kind        text NOT NULL,
      subject     text NOT NULL,
      detail      text NOT NULL,
      attention   text,
      error       text NOT NULL,
      attempts    integer NOT NULL,
      status      text NOT NULL DEFAULT 'open',
      resolved_by text,
      reason      text,
      resolved_at timestamptz,
      created_at  timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX dead_letters_list ON dead_letters (created_at DESC, id);

    ALTER TABLE pm_tasks ADD COLUMN first_failed_at timestamptz, ADD COLUMN dead_letter_id uuid;
  `.execute(db)
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`
    ALTER TABLE pm_tasks DROP COLUMN first_failed_at, DROP COLUMN dead_letter_id;
    DROP TABLE dead_letters;
    DROP TABLE webhook_inbox;
  `.execute(db)
}
