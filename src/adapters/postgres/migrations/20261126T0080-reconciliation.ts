import { sql, type Kysely } from 'kysely'

// Reconciliation runs and their findings: a report of what differed, never a source of balances.
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE TABLE reconciliation_runs (
      id              uuid PRIMARY KEY,
      trigger         text NOT NULL,
      status          text NOT NULL,
      outcome         text,
      created_at      timestamptz NOT NULL DEFAULT now(),
      finished_at     timestamptz,
      listed_from     timestamptz,
      high_water_mark timestamptz,
      checked         jsonb NOT NULL DEFAULT '{}',
      counts          jsonb NOT NULL DEFAULT '{}',
      error           text
    );
    CREATE INDEX reconciliation_runs_created ON reconciliation_runs (created_at DESC, id DESC);

    CREATE TABLE reconciliation_findings (
      id         uuid PRIMARY KEY,
      run_id     uuid NOT NULL REFERENCES reconciliation_runs (id) ON DELETE CASCADE,
      kind       text NOT NULL,
      subject    text NOT NULL,
      circle_id  text,
      details    jsonb NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX reconciliation_findings_run ON reconciliation_findings (run_id, created_at DESC, id DESC);
    CREATE INDEX reconciliation_findings_circle ON reconciliation_findings (kind, circle_id) WHERE circle_id IS NOT NULL;
  `.execute(db)
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`DROP TABLE reconciliation_findings; DROP TABLE reconciliation_runs`.execute(db)
}
