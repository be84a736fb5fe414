import { sql, type Transaction } from 'kysely'
import type { Db } from '../adapters/postgres/database.ts'
import type { Database } from '../database.ts'

export type TaskKind = 'wallet' | 'bankaccount' | 'mint' | 'redeem' | 'transfer' | 'card'

export interface Task {
  stream: string
  kind: TaskKind
  entityId: string
  version: number
  attempts: number
}

/** Events on these streams make their tasks due now (and not done, whatever they were); one statement per batch. */
export async function wake(trx: Transaction<Database> | Db, streams: string[]): Promise<void> {
  const unique = [...new Set(streams)]
  if (unique.length === 0) return
  await trx
    .insertInto('pm_tasks')
    .values(
      unique.map((stream) => {
        // Stream names are `{category}-{id}`; the category names the step that runs the task.
        const dash = stream.indexOf('-')
        return { stream, kind: stream.slice(0, dash), entity_id: stream.slice(dash + 1), due_at: sql<Date>`now()`, updated_at: sql<Date>`now()` }
      }),
    )
    .onConflict((oc) =>
      oc.column('stream').doUpdateSet({ version: sql<number>`pm_tasks.version + 1`, due_at: sql<Date>`now()`, done: false, attempts: 0, updated_at: sql<Date>`now()` }),
    )
    .execute()
}

/** The queue as the metrics report it: tasks due now, tasks scheduled later, and how long the oldest due one has waited. */
export async function queueStats(db: Db): Promise<{ due: number; scheduled: number; oldestDueSeconds: number }> {
  const row = await sql<{ due: string; scheduled: string; oldest: number | null }>`
    SELECT count(*) FILTER (WHERE due_at <= now()) AS due,
           count(*) FILTER (WHERE due_at > now()) AS scheduled,
           extract(epoch FROM now() - min(due_at) FILTER (WHERE due_at <= now()))::float8 AS oldest
    FROM pm_tasks WHERE NOT done
  `.execute(db)
  const r = row.rows[0]
  return { due: Number(r?.due ?? 0), scheduled: Number(r?.scheduled ?? 0), oldestDueSeconds: Math.max(0, r?.oldest ?? 0) }
}

/** Claims up to `limit` due tasks for `leaseSeconds`; a crashed worker's claims expire and are retaken. */
export async function claimDue(db: Db, limit: number, leaseSeconds: number): Promise<Task[]> {
  const rows = await sql<{ stream: string; kind: TaskKind; entity_id: string; version: number; attempts: number }>`
    UPDATE pm_tasks SET locked_until = now() + make_interval(secs => ${leaseSeconds})
    WHERE stream IN (
      SELECT stream FROM pm_tasks
      WHERE NOT done AND due_at <= now() AND (locked_until IS NULL OR locked_until < now())
      ORDER BY due_at LIMIT ${limit}
      FOR UPDATE SKIP LOCKED
    )
    RETURNING stream, kind, entity_id, version, attempts`.execute(db)
  return rows.rows.map((r) => ({ stream: r.stream, kind: r.kind, entityId: r.entity_id, version: r.version, attempts: r.attempts }))
}

export type Outcome = { next: 'done' } | { next: 'poll'; inMs: number } | { next: 'retry'; inMs: number; error: string }

/** Records how a claimed task went; a newer event since the claim keeps it due now. */
export async function settle(db: Db, task: Task, outcome: Outcome): Promise<void> {
  const done = outcome.next === 'done'
  const inMs = outcome.next === 'done' ? 0 : outcome.inMs
  await sql`
    UPDATE pm_tasks SET
      done = CASE WHEN version = ${task.version} THEN ${done} ELSE false END,
      due_at = CASE WHEN version = ${task.version} THEN now() + make_interval(secs => ${inMs / 1000}) ELSE now() END,
      attempts = CASE WHEN ${outcome.next === 'retry'} THEN attempts + 1 ELSE 0 END,
      last_error = ${outcome.next === 'retry' ? outcome.error.slice(0, 1000) : null},
      locked_until = NULL,
      updated_at = now()
    WHERE stream = ${task.stream}`.execute(db)
}

/** Frees every claim; only safe for the instance holding the process-manager lease. */
export async function releaseClaims(db: Db): Promise<void> {
  await db.updateTable('pm_tasks').set({ locked_until: null }).where('locked_until', 'is not', null).execute()
}
