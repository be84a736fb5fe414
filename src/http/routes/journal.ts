import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { formatAmount } from '../../events/money.ts'
import { ACCOUNT_PATTERN } from '../../ledger/accounts.ts'
import { accountPostings, balanceAt, getAccount, listEntries, momentKey, trialBalance } from '../../ledger/journal.ts'
import { notFound } from '../errors.ts'
import { limit, moment, parseMoment, position, signedAmount } from '../ledger-schemas.ts'
import type { RouteDeps } from '../command-resource-routes.ts'
import { currency, readErrors } from '../schemas.ts'

const operationKind = z.enum(['mint', 'redeem', 'transfer', 'deposit'])

/** Where a movement comes from: who caused it, in which request, and Circle's id for it. */
const trace = {
  actor: z.string().meta({ description: 'API key name, process-manager, circle-webhook or reconciliation' }),
  requestId: z.string().nullable().meta({ description: 'The HTTP request that caused the event, when one did' }),
  circleId: z.string().nullable().meta({ description: "Circle's transfer or payout id, when the event names one" }),
}

const postingBody = z
  .object({
    position,
    ...trace,
    operationId: z.string(),
    operationKind,
    eventType: z.string().meta({ example: 'MintCompleted' }),
    description: z.string(),
    amount: signedAmount,
    balanceAfter: signedAmount,
    bookedAt: z.string().meta({ description: 'The entry’s moment: its event’s recorded time, never earlier than the entry before it' }),
  })
  .meta({ id: 'JournalPosting' })

const entryBody = z
  .object({
    position,
    stream: z.string(),
    revision: z.number().int(),
    eventId: z.uuid(),
    eventType: z.string(),
    ...trace,
    operationId: z.string(),
    operationKind,
    description: z.string(),
    bookedAt: z.string(),
    postings: z.array(z.object({ account: z.string(), amount: signedAmount, balanceAfter: signedAmount })).meta({ description: 'They sum to zero' }),
  })
  .meta({ id: 'JournalEntry' })

const accountParams = z.object({
  account: z
    .string()
    .max(100)
    .regex(ACCOUNT_PATTERN, 'an account: circle:treasury, wallet:{id}:available, wallet:{id}:held, bank:{id} or chain:{chain}')
    .meta({ example: 'circle:treasury' }),
})

/** The double-entry journal, for auditors: accounts, entries, trial balance. */
export const journalRoutes: FastifyPluginAsyncZod<RouteDeps> = async (app, { read }) => {
  const db = read.db
  app.get(
    '/journal/accounts/:account',
    {
      config: { roles: ['auditor'] },
      schema: {
        tags: ['journal'],
        summary: "An account's balance and its postings in log order",
        description: 'With `at`, the balance as it was at that moment and only the postings up to it.',
        params: accountParams,
        querystring: z.strictObject({
          at: moment.optional(),
          after: position.optional().meta({ description: 'Postings after this position (exclusive): the `next` of the previous page' }),
          limit: limit(1000, 100),
        }),
        response: {
          200: z
            .object({
              account: z.string(),
              balance: signedAmount,
              currency,
              at: z.string().nullable().meta({ description: 'The moment asked for, if any' }),
              position: position.nullable().meta({ description: 'Position of the last posting the balance includes' }),
              postings: z.array(postingBody),
              next: position.nullable(),
            })
            .meta({ id: 'JournalAccount' })
            .describe("The account's balance (at the moment asked for) and a page of its postings"),
          ...readErrors,
        },
      },
    },
    async (request) => {
      const { account } = request.params
      const { at, after, limit: pageSize } = request.query
      const kept = await getAccount(db, account)
      if (!kept) throw notFound('account', account)
      const untilKey = at === undefined ? undefined : await momentKey(db, parseMoment(at, 'at'))
      const balance = untilKey === undefined ? { balance: BigInt(kept.balance), position: null } : await balanceAt(db, account, untilKey)
      const rows =
        untilKey === null ? [] : await accountPostings(db, account, { after, limit: pageSize, ...(untilKey !== undefined ? { untilKey } : {}) })
      return {
        account,
        balance: formatAmount(balance.balance),
        currency: 'USD' as const,
        at: at ?? null,
        position: balance.position,
        postings: rows.map((r) => ({
          position: r.position,
          actor: r.actor,
          requestId: r.request_id,
          circleId: r.circle_id,
          operationId: r.operation_id,
          operationKind: r.operation_kind,
          eventType: r.event_type,
          description: r.description,
          amount: formatAmount(BigInt(r.amount)),
          balanceAfter: formatAmount(BigInt(r.balance_after)),
          bookedAt: r.booked_at.toISOString(),
        })),
        next: rows.length === pageSize ? (rows.at(-1)?.position ?? null) : null,
      }
    },
  )

  app.get(
    '/journal/entries',
    {
      config: { roles: ['auditor'] },
      schema: {
        tags: ['journal'],
        summary: 'Journal entries in log order, each with its postings',
        querystring: z.strictObject({ after: position.optional().meta({ description: 'Exclusive; the `next` of the previous page' }), limit: limit(1000, 100) }),
        response: { 200: z.object({ entries: z.array(entryBody), next: position.nullable() }).describe('A page of journal entries in position order'), ...readErrors },
      },
    },
    async (request) => {
      const entries = await listEntries(db, { after: request.query.after, limit: request.query.limit })
      return {
        entries: entries.map((e) => ({
          position: e.position,
          stream: e.stream,
          revision: e.revision,
          eventId: e.event_id,
          eventType: e.event_type,
          actor: e.actor,
          requestId: e.request_id,
          circleId: e.circle_id,
          operationId: e.operation_id,
          operationKind: e.operation_kind,
          description: e.description,
          bookedAt: e.booked_at.toISOString(),
          postings: e.postings.map((p) => ({ account: p.account, amount: formatAmount(BigInt(p.amount)), balanceAfter: formatAmount(BigInt(p.balance_after)) })),
        })),
        next: entries.length === request.query.limit ? (entries.at(-1)?.position ?? null) : null,
      }
    },
  )

  app.get(
    '/journal/trial-balance',
    {
      config: { roles: ['auditor'] },
      schema: {
        tags: ['journal'],
        summary: "Every account's balance; they sum to zero",
        response: {
          200: z
            .object({
              accounts: z.array(z.object({ account: z.string(), balance: signedAmount, postings: z.number().int() })),
              total: signedAmount.meta({ description: 'Sum of every balance: 0.00 when the journal holds' }),
              balanced: z.boolean(),
              currency,
            })
            .meta({ id: 'TrialBalance' })
            .describe("Every account's balance and their sum"),
          ...readErrors,
        },
      },
    },
    async () => {
      const trial = await trialBalance(db)
      return {
        accounts: trial.accounts.map((a) => ({ account: a.account, balance: formatAmount(a.balance), postings: a.postings })),
        total: formatAmount(trial.total),
        balanced: trial.total === 0n,
        currency: 'USD' as const,
      }
    },
  )
}
