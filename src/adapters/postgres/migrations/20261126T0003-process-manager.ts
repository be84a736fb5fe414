import { sql, type Kysely } from 'kysely'

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE TABLE pm_tasks (
      stream       text PRIMARY KEY,
      kind         text NOT NULL,
      entity_id    text NOT NULL,
      version      integer NOT NULL DEFAULT 1,
      due_at       timestamptz NOT NULL DEFAULT now(),
      locked_until timestamptz,
      attempts     integer NOT NULL DEFAULT 0,
      last_error   text,
      done         boolean NOT NULL DEFAULT false,
      created_at   timestamptz NOT NULL DEFAULT now(),
      updated_at   timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX pm_tasks_due ON pm_tasks (due_at) WHERE NOT done;
  `.execute(db)
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`DROP TABLE pm_tasks`.execute(db)
}
