import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { formatAmount } from '../../events/money.ts'
import type { Moment } from '../../ledger/journal.ts'
import { StatementTooLong, walletBalancesAt, walletStatement, type Movement, type WalletBalances } from '../../ledger/statements.ts'
import { getWallet } from '../../projections/wallets.ts'
import { HttpError, notFound } from '../errors.ts'
import { accepts, assertOrdered, moment, parseMoment, position } from '../ledger-schemas.ts'
import type { RouteDeps } from '../command-resource-routes.ts'
import { currency, errorBody, idParams, readErrors } from '../schemas.ts'

const balancesBody = z.object({
  available: z.string().meta({ example: '60.00' }),
  held: z.string().meta({ example: '40.00', description: 'Reserved for operations in flight' }),
  total: z.string().meta({ example: '100.00' }),
  currency,
})

const toBalances = (b: WalletBalances) => ({ available: formatAmount(b.available), held: formatAmount(b.held), total: formatAmount(b.available + b.held), currency: 'USD' as const })

const movementBody = z
  .object({
    position,
    bookedAt: z.string(),
    operationId: z.string(),
    operationKind: z.enum(['mint', 'redeem', 'transfer', 'deposit']),
    eventType: z.string(),
    description: z.string(),
    availableChange: z.string().meta({ example: '-40.00' }),
    heldChange: z.string().meta({ example: '40.00' }),
    available: z.string().meta({ description: 'Running balance after this movement' }),
    held: z.string(),
  })
  .meta({ id: 'StatementMovement' })

const toMovement = (m: Movement): z.infer<typeof movementBody> => ({
  position: m.position,
  bookedAt: m.bookedAt.toISOString(),
  operationId: m.operationId,
  operationKind: m.operationKind as z.infer<typeof movementBody>['operationKind'],
  eventType: m.eventType,
  description: m.description,
  availableChange: formatAmount(m.availableChange),
  heldChange: formatAmount(m.heldChange),
  available: formatAmount(m.available),
  held: formatAmount(m.held),
})

const CSV_COLUMNS = ['position', 'bookedAt', 'operationId', 'operationKind', 'eventType', 'description', 'availableChange', 'heldChange', 'available', 'held'] as const

/** RFC 4180: quote a field holding a comma, quote or line break; double its quotes. */
const csvField = (v: string) => (/[",\r\n]/.test(v) ? `"${v.replaceAll('"', '""')}"` : v)

function statementCsv(opening: WalletBalances, movements: Movement[], closing: WalletBalances): string {
  const line = (fields: string[]) => `${fields.map(csvField).join(',')}\r\n`
  const balanceLine = (label: string, b: WalletBalances) => line(['', '', '', '', '', label, '', '', formatAmount(b.available), formatAmount(b.held)])
  let out = line([...CSV_COLUMNS])
  out += balanceLine('opening balance', opening)
  for (const m of movements) {
    const body = toMovement(m)
    out += line(CSV_COLUMNS.map((c) => String(body[c])))
  }
  out += balanceLine('closing balance', closing)
  return out
}

/** A wallet's balances at a past moment and its statements, from the journal; open to backends and auditors. */
export const statementRoutes: FastifyPluginAsyncZod<RouteDeps> = async (app, { read }) => {
  const db = read.db
  const requireWallet = async (id: string) => {
    if (!(await getWallet(db, id))) throw notFound('wallet', id)
  }

  app.get(
    '/wallets/:id/balances',
    {
      config: { roles: ['backend', 'auditor'] },
      schema: {
        tags: ['wallets'],
        summary: "A wallet's balances from the journal, now or as they were at a moment",
        params: idParams,
        querystring: z.strictObject({ at: moment.optional() }),
        response: {
          200: z
            .object({
              walletId: z.uuid(),
              at: z.string().nullable(),
              position: position.nullable().meta({ description: 'The last journal entry of this wallet the balances include' }),
              balances: balancesBody,
            })
            .meta({ id: 'WalletBalancesAt' })
            .describe("The wallet's balances as they were at the moment asked for"),
          ...readErrors,
        },
      },
    },
    async (request) => {
      const { id } = request.params
      await requireWallet(id)
      const at: Moment = request.query.at === undefined ? { latest: true } : parseMoment(request.query.at, 'at')
      const b = await walletBalancesAt(db, id, at)
      return { walletId: id, at: request.query.at ?? null, position: b.position, balances: toBalances(b) }
    },
  )

  app.get(
    '/wallets/:id/statement',
    {
      config: { roles: ['backend', 'auditor'] },
      schema: {
        tags: ['wallets'],
        summary: "A wallet's statement: opening balance, every movement with its running balance, closing balance",
        description:
          '`from` and `to` are inclusive (positions or instants); `from` defaults to the beginning, `to` to now. ' +
          'JSON by default; `Accept: text/csv` answers the same as CSV (a header row, an opening-balance row, one row per movement, a closing-balance row). ' +
          `A period with more than 10,000 movements is refused with 422 statement_too_long.`,
        params: idParams,
        querystring: z.strictObject({ from: moment.optional(), to: moment.optional() }),
        response: {
          200: z
            .object({
              walletId: z.uuid(),
              from: z.string().nullable(),
              to: z.string().nullable(),
              opening: balancesBody,
              movements: z.array(movementBody),
              closing: balancesBody,
            })
            .meta({ id: 'WalletStatement' })
            .describe('Opening balances, every movement with its running balance, closing balances'),
          ...readErrors,
          422: errorBody.describe('The period holds too many movements'),
        },
      },
    },
    async (request, reply) => {
      const { id } = request.params
      await requireWallet(id)
      const from: Moment = request.query.from === undefined ? { position: '0' } : parseMoment(request.query.from, 'from')
      const to: Moment = request.query.to === undefined ? { latest: true } : parseMoment(request.query.to, 'to')
      assertOrdered(from, to)
      let statement
      try {
        statement = await walletStatement(db, id, from, to)
      } catch (err) {
        if (err instanceof StatementTooLong) throw new HttpError(422, 'statement_too_long', err.message)
        throw err
      }
      if (accepts(request.headers.accept, 'text/csv')) {
        return reply
          .type('text/csv; charset=utf-8')
          .header('content-disposition', `attachment; filename="statement-${id}.csv"`)
          .serializer((x) => x as string)
          .send(statementCsv(statement.opening, statement.movements, statement.closing) as never)
      }
      return {
        walletId: id,
        from: request.query.from ?? null,
        to: request.query.to ?? null,
        opening: toBalances(statement.opening),
        movements: statement.movements.map(toMovement),
        closing: toBalances(statement.closing),
      }
    },
  )
}
