import { sql, type Kysely } from 'kysely'

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE TABLE events (
      position    bigint PRIMARY KEY,
      stream      text NOT NULL,
      revision    integer NOT NULL,
      event_id    uuid NOT NULL UNIQUE,
      type        text NOT NULL,
      data        jsonb NOT NULL,
      metadata    jsonb NOT NULL,
      recorded_at timestamptz NOT NULL DEFAULT now(),
      UNIQUE (stream, revision)
    );
    CREATE TABLE streams (
      stream   text PRIMARY KEY,
      revision integer NOT NULL
    );
    CREATE TABLE event_head (
      id       boolean PRIMARY KEY DEFAULT true CHECK (id),
      position bigint NOT NULL
    );
    INSERT INTO event_head (id, position) VALUES (true, 0);

    CREATE FUNCTION events_are_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      RAISE EXCEPTION 'events are immutable: % rejected', TG_OP USING ERRCODE = 'restrict_violation';
    END $$;
    CREATE TRIGGER events_no_update_delete BEFORE UPDATE OR DELETE ON events
      FOR EACH ROW EXECUTE FUNCTION events_are_immutable();
    CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON events
      FOR EACH STATEMENT EXECUTE FUNCTION events_are_immutable();

    CREATE FUNCTION events_notify() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      PERFORM pg_notify('ledger_events', '');
      RETURN NULL;
    END $$;
    CREATE TRIGGER events_notify AFTER INSERT ON events
      FOR EACH STATEMENT EXECUTE FUNCTION events_notify();

    CREATE TABLE checkpoints (
      name       text PRIMARY KEY,
      position   text,
      updated_at timestamptz NOT NULL DEFAULT now()
    );
  `.execute(db)
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`DROP TABLE checkpoints, event_head, streams; DROP TABLE events; DROP FUNCTION events_notify, events_are_immutable`.execute(db)
}
