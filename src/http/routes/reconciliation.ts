import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { z } from 'zod'
import type { Db } from '../../adapters/postgres/database.ts'
import { RunInProgress } from '../../reconciliation/reconciler.ts'
import { FINDING_KINDS, getRun, listFindings, listRuns, type Run } from '../../reconciliation/runs.ts'
import { HttpError, notFound } from '../errors.ts'
import { commonErrors, errorBody, idParams, listQuery, pageOf, readErrors } from '../schemas.ts'

export interface ReconciliationRouteDeps {
  db: Db
  /** Starts a run in the background and answers with it; undefined where this instance cannot run one. */
  startRun?: (() => Promise<Run>) | undefined
}

const counts = z.record(z.string(), z.number().int())
export const runBody = z
  .object({
    id: z.uuid(),
    trigger: z.enum(['schedule', 'cli', 'http']),
    status: z.enum(['running', 'completed', 'failed']),
    outcome: z.enum(['clean', 'mismatches', 'failed']).nullable().meta({ description: 'null while running' }),
    startedAt: z.string(),
    finishedAt: z.string().nullable(),
    listedFrom: z.string().nullable().meta({ description: "Circle's lists were read from here (the previous run's high-water mark less an overlap); null = from the beginning" }),
    highWaterMark: z.string().nullable().meta({ description: 'Circle resources created up to here were looked at; the next run starts here' }),
    checked: counts.meta({ description: 'What the run looked at: operations, wallets, circleTransfers, circlePayouts' }),
    counts: counts.meta({ description: 'Findings by kind' }),
    findings: z.number().int(),
    treasuryBalance: z.string().nullable().meta({ description: "Circle's business balance when the run looked (USD); null before that" }),
    error: z.string().nullable().meta({ description: 'Why a failed run stopped' }),
  })
  .meta({ id: 'ReconciliationRun' })

export const findingBody = z
  .object({
    id: z.uuid(),
    kind: z.enum(FINDING_KINDS),
    subject: z.string().meta({ description: 'The wallet, operation stream or Circle resource it is about' }),
    circleId: z.string().optional(),
    details: z.record(z.string(), z.unknown()).meta({ description: 'Amounts as decimal strings; balance findings carry ledgerBalance, circleBalance, difference and inFlight' }),
    createdAt: z.string(),
  })
  .meta({ id: 'ReconciliationFinding' })

/** Reconciliation runs: admins start them; admins and auditors read them (a report, no money moves). */
export const reconciliationRoutes: FastifyPluginAsyncZod<ReconciliationRouteDeps> = async (app, { db, startRun }) => {
  app.post(
    '/admin/reconciliation/runs',
    {
      config: { roles: [] },
      schema: {
        tags: ['reconciliation'],
        summary: 'Start a reconciliation run; 202 with the run, read it later for its findings',
        response: { 202: runBody.describe('Accepted: the run goes on in the background; poll GET /admin/reconciliation/runs/{id}'), ...commonErrors, 409: errorBody.describe('A run is already in progress') },
      },
    },
    async (_request, reply) => {
      if (!startRun) throw new HttpError(503, 'reconciler_unavailable', 'this instance cannot reach Circle to reconcile')
      try {
        return reply.code(202).send(await startRun())
      } catch (err) {
        if (err instanceof RunInProgress) throw new HttpError(409, 'run_in_progress', err.message)
        throw err
      }
    },
  )
  app.get(
    '/admin/reconciliation/runs',
    {
      config: { roles: ['auditor'] },
      schema: { tags: ['reconciliation'], summary: 'Reconciliation runs, newest first', querystring: listQuery({}), response: { 200: pageOf(runBody).describe('A page of runs, newest first'), ...commonErrors } },
    },
    async (request) => listRuns(db, request.query),
  )
  app.get(
    '/admin/reconciliation/runs/:id',
    {
      config: { roles: ['auditor'] },
      schema: {
        tags: ['reconciliation'],
        summary: 'One run and a page of its findings',
        params: idParams,
        querystring: listQuery({ kind: z.enum(FINDING_KINDS).optional().meta({ description: 'Only findings of this kind' }) }),
        response: { 200: runBody.extend({ items: z.array(findingBody), nextCursor: z.string().nullable() }).describe('The run with a page of its findings'), ...readErrors },
      },
    },
    async (request) => {
      const run = await getRun(db, request.params.id)
      if (!run) throw notFound('reconciliation run', request.params.id)
      const page = await listFindings(db, run.id, request.query)
      return { ...run, items: page.items.map(({ runId: _r, ...f }) => f), nextCursor: page.nextCursor }
    },
  )
}
