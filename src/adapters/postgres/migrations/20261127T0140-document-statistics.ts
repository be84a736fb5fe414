import { sql, type Kysely } from 'kysely'

// No planner statistics for the service's JSON documents: the event log's data and metadata, the
// read models' folded state, the stored answers of idempotency keys, the webhook inbox's resources
// and the reconciliation's details (the audit log's went in 20261127T0130). Queries reach these rows
// by their other columns; the one condition on a document, the reconciliation runs' treasury IS NOT
// NULL, is on a table of a few rows, where the planner's default guess serves. Gathering them was
// half of each ANALYZE of the event log: 1.07 s with them and 0.54 s without, at 1,000,000 events.
// Without autovacuum the service's maintenance pass runs those ANALYZEs
// (src/adapters/postgres/maintenance.ts), under load about once a minute for the growing log, on the
// cores that serve the requests. A rebuild's twin keeps these targets. Statistics gathered before
// stay until the table is rebuilt; they are not read for any plan that matters. Down resets the
// targets to the default.
const UNSAMPLED: Record<string, string[]> = {
  events: ['data', 'metadata'],
  idempotency_keys: ['response_body', 'response_headers'],
  wallets: ['state'],
  bank_accounts: ['state'],
  cards: ['state'],
  mints: ['state'],
  redeems: ['state'],
  transfers: ['state'],
  deposits: ['state'],
  webhook_inbox: ['resource'],
  reconciliation_runs: ['checked', 'counts', 'treasury'],
  reconciliation_findings: ['details'],
}

async function setTargets(db: Kysely<unknown>, target: number): Promise<void> {
  for (const [table, columns] of Object.entries(UNSAMPLED)) {
    await sql`ALTER TABLE ${sql.id(table)} ${sql.join(columns.map((column) => sql`ALTER COLUMN ${sql.id(column)} SET STATISTICS ${sql.raw(String(target))}`))}`.execute(db)
  }
}

export async function up(db: Kysely<unknown>): Promise<void> {
  await setTargets(db, 0)
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await setTargets(db, -1)
}
