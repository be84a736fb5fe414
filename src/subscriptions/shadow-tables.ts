import { sql, type Kysely, type Transaction } from 'kysely'
import pg from 'pg'
import type { Database } from '../database.ts'

/**
 * A rebuild's tables beside the live ones: built in a schema of their own with the live tables'
 * columns, constraints, indexes and privileges under the same names, then put in the live tables'
 * place by renaming (catalog work only), or, when something else depends on a live table, by
 * copying their rows into it.
 */

/** What a rebuild reads of a live table before building its twin. */
export interface LiveTable {
  name: string
  /** Its name qualified and quoted as PostgreSQL writes it in an index definition. */
  qualified: string
  /** Constraints backed by an index (primary key, unique, exclusion): `ALTER TABLE ... ADD CONSTRAINT name def`. */
  constraints: { name: string; definition: string }[]
  /** Every other index, as `CREATE INDEX` on the live table. */
  indexes: { name: string; definition: string }[]
  /** `GRANT` statements for the privileges held on it by roles other than its owner, with no target yet. */
  grants: { privilege: string; grantee: string; grantable: boolean }[]
  /** Columns with a statistics target of their own (`ALTER COLUMN ... SET STATISTICS`), which the twin is given too. */
  statistics: { column: string; target: number }[]
  /**
   * Why the twin cannot simply take its place, if anything: something depends on the live table (a
   * view, rule, trigger, foreign key, row security, publication, an owned sequence), or it has
   * something a twin would not carry (storage parameters, replica identity, a comment of its own,
   * column privileges, extended statistics, another owner).
   */
  kept: string | undefined
}

export async function describeTable(db: Kysely<Database>, table: string): Promise<LiveTable> {
  const found = await sql<{ oid: number; qualified: string }>`
    SELECT c.oid, format('%I.%I', n.nspname, c.relname) AS qualified FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = 'public' AND c.relname = ${table} AND c.relkind = 'r'`.execute(db)
  const row = found.rows[0]
  if (row === undefined) throw new Error(`rebuild: the table public.${table} does not exist`)
  const oid = sql`${row.oid}::oid`
  const indexes = await sql<{ name: string; definition: string; constraint_definition: string | null }>`
    SELECT i.relname AS name, pg_get_indexdef(x.indexrelid) AS definition, pg_get_constraintdef(c.oid) AS constraint_definition
    FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
    LEFT JOIN pg_constraint c ON c.conindid = x.indexrelid AND c.conrelid = x.indrelid AND c.contype IN ('p', 'u', 'x')
    WHERE x.indrelid = ${oid} ORDER BY i.relname`.execute(db)
  const grants = await sql<{ privilege: string; grantee: string; grantable: boolean }>`
    SELECT a.privilege_type AS privilege, CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(r.rolname) END AS grantee, a.is_grantable AS grantable
    FROM pg_class c CROSS JOIN LATERAL aclexplode(c.relacl) a LEFT JOIN pg_roles r ON r.oid = a.grantee
    WHERE c.oid = ${oid} AND a.grantee <> c.relowner ORDER BY 2, 1`.execute(db)
  const statistics = await sql<{ column: string; target: number }>`
    SELECT attname AS column, attstattarget::int AS target FROM pg_attribute
    WHERE attrelid = ${oid} AND attnum > 0 AND NOT attisdropped AND coalesce(attstattarget, -1) >= 0 ORDER BY attnum`.execute(db)
  // Whatever a twin made by LIKE would not carry, or a DROP of the live table would take with it.
  // A view's or rule's rewrite rule depends on the table it reads, a rule on the table included.
  const dependents = await sql<{ kind: string }>`
    SELECT 'a view or rule' AS kind FROM pg_depend d JOIN pg_rewrite w ON w.oid = d.objid
      WHERE d.classid = 'pg_rewrite'::regclass AND d.refobjid = ${oid}
    UNION ALL SELECT 'a foreign key' FROM pg_constraint WHERE contype = 'f' AND (confrelid = ${oid} OR conrelid = ${oid})
    UNION ALL SELECT 'a trigger' FROM pg_trigger WHERE tgrelid = ${oid} AND NOT tgisinternal
    UNION ALL SELECT 'row security' FROM pg_class WHERE oid = ${oid} AND (relrowsecurity OR relforcerowsecurity)
    UNION ALL SELECT 'a row security policy' FROM pg_policy WHERE polrelid = ${oid}
    UNION ALL SELECT 'a publication' FROM pg_publication_rel WHERE prrelid = ${oid}
    UNION ALL SELECT 'another owner' FROM pg_class WHERE oid = ${oid} AND relowner <> (SELECT oid FROM pg_roles WHERE rolname = current_user)
    UNION ALL SELECT 'inheritance or partitions' FROM pg_inherits WHERE inhrelid = ${oid} OR inhparent = ${oid}
    UNION ALL SELECT 'storage parameters' FROM pg_class WHERE oid = ${oid} AND reloptions IS NOT NULL
    UNION ALL SELECT 'a replica identity of its own' FROM pg_class WHERE oid = ${oid} AND relreplident <> 'd'
    UNION ALL SELECT 'a comment on the table' FROM pg_description WHERE objoid = ${oid} AND classoid = 'pg_class'::regclass AND objsubid = 0
    UNION ALL SELECT 'column privileges' FROM pg_attribute WHERE attrelid = ${oid} AND attnum > 0 AND NOT attisdropped AND attacl IS NOT NULL
    UNION ALL SELECT 'an extended statistics object' FROM pg_statistic_ext WHERE stxrelid = ${oid}
    UNION ALL SELECT 'an owned sequence or identity column' FROM pg_depend d JOIN pg_class q ON q.oid = d.objid
      WHERE d.classid = 'pg_class'::regclass AND d.refobjid = ${oid} AND q.relkind = 'S'`.execute(db)
  return {
    name: table,
    qualified: row.qualified,
    constraints: indexes.rows.filter((r) => r.constraint_definition !== null).map((r) => ({ name: r.name, definition: r.constraint_definition! })),
    indexes: indexes.rows.filter((r) => r.constraint_definition === null).map((r) => ({ name: r.name, definition: r.definition })),
    grants: grants.rows,
    statistics: statistics.rows,
    kept: dependents.rows[0]?.kind,
  }
}

/**
 * Creates the twin of a live table in `schema`: its columns, defaults, NOT NULL and CHECK
 * constraints and column comments (LIKE), then its index-backed constraints and its indexes under
 * their live names, except the `deferred` ones (see `finishShadowTables`), its columns' statistics
 * targets (one ALTER TABLE) and its table privileges. Logged, so that it can become the live table
 * as it is. What LIKE does not carry over makes the table `kept` (see LiveTable).
 */
export async function createShadowTable(db: Kysely<Database>, schema: string, live: LiveTable, deferred: ReadonlySet<string>): Promise<void> {
  const shadow = sql.id(schema, live.name)
  await sql`CREATE TABLE ${shadow} (LIKE ${sql.id('public', live.name)} INCLUDING ALL EXCLUDING INDEXES)`.execute(db)
  for (const c of live.constraints) await sql`ALTER TABLE ${shadow} ADD CONSTRAINT ${sql.id(c.name)} ${sql.raw(c.definition)}`.execute(db)
  for (const index of live.indexes) if (!deferred.has(index.name)) await sql.raw(onSchema(index.definition, live, schema)).execute(db)
  if (live.statistics.length > 0)
    await sql`ALTER TABLE ${shadow} ${sql.join(live.statistics.map((c) => sql`ALTER COLUMN ${sql.id(c.column)} SET STATISTICS ${sql.raw(String(c.target))}`))}`.execute(db)
  for (const g of live.grants) await sql`GRANT ${sql.raw(g.privilege)} ON ${shadow} TO ${sql.raw(g.grantee)}${sql.raw(g.grantable ? ' WITH GRANT OPTION' : '')}`.execute(db)
}

/** Memory for one deferred index's sort: the journal's postings of 1M events sort in memory with it. */
const INDEX_BUILD_MEMORY = '256MB'

/**
 * Finishes the twins once their rows are in: creates their deferred indexes, one sort per index
 * instead of an index entry per row as they arrive, and refreshes the planner's statistics of each
 * twin, which it takes with it into the live table's place. The builds and ANALYZEs are independent
 * of each other and each runs on one core: they run FINISH_CONCURRENCY at a time, each on its own
 * connection (a journal of 1M events: 1.1 s + 0.7 s + 0.2 s of index builds, four ANALYZEs).
 */
export async function finishShadowTables(db: Kysely<Database>, schema: string, tables: readonly LiveTable[], deferred: ReadonlySet<string>): Promise<void> {
  const steps: (() => Promise<unknown>)[] = []
  for (const live of tables) {
    for (const index of live.indexes) {
      if (!deferred.has(index.name)) continue
      steps.push(() =>
        db.transaction().execute(async (trx) => {
          await sql`SELECT set_config('maintenance_work_mem', ${INDEX_BUILD_MEMORY}, true)`.execute(trx)
          await sql.raw(onSchema(index.definition, live, schema)).execute(trx)
        }),
      )
    }
  }
  for (const live of tables) steps.push(() => sql`ANALYZE ${sql.id(schema, live.name)}`.execute(db))
  let next = 0
  const run = async () => {
    while (next < steps.length) await steps[next++]!()
  }
  // The first failure rejects; the other runner finishes the step it is on and takes no other.
  const runners = Array.from({ length: Math.min(FINISH_CONCURRENCY, steps.length) }, run)
  try {
    await Promise.all(runners)
  } catch (err) {
    next = steps.length
    await Promise.allSettled(runners)
    throw err
  }
}

/** Index builds and ANALYZEs at once: this machine's cores (PostgreSQL may give a large build parallel workers of its own). */
const FINISH_CONCURRENCY = 2

/** Puts the twin in the live table's place: the live table is dropped and the twin moved into public, names and all. */
export async function replaceLiveTable(trx: Transaction<Database>, schema: string, table: string): Promise<void> {
  await sql`DROP TABLE ${sql.id('public', table)}`.execute(trx)
  await sql`ALTER TABLE ${sql.id(schema, table)} SET SCHEMA public`.execute(trx)
}

/** Replaces the live table's rows with the twin's, for a table that cannot be replaced whole. */
export async function copyIntoLiveTable(trx: Transaction<Database>, schema: string, table: string): Promise<void> {
  await sql`DELETE FROM ${sql.id('public', table)}`.execute(trx)
  await sql`INSERT INTO ${sql.id('public', table)} SELECT * FROM ${sql.id(schema, table)}`.execute(trx)
}

/** An index definition of the live table (as pg_get_indexdef writes it) made to create the same index on the twin. */
function onSchema(definition: string, live: LiveTable, schema: string): string {
  const target = ` ON ${live.qualified} USING `
  const at = definition.indexOf(target)
  if (at < 0 || definition.indexOf(target, at + 1) >= 0) throw new Error(`rebuild: cannot read the index definition ${JSON.stringify(definition)} of ${live.name}`)
  return definition.slice(0, at) + ` ON ${pg.escapeIdentifier(schema)}.${pg.escapeIdentifier(live.name)} USING ` + definition.slice(at + target.length)
}
