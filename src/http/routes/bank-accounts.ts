import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { CircleError, type CirclePort, type WireAccountDetails } from '../../adapters/circle/port.ts'
import { execute } from '../../commands/handler.ts'
import { circleKey, outcomeCommandId } from '../../commands/ids.ts'
import { linkBankAccount, type LinkBankAccount } from '../../commands/link-bank-account.ts'
import { recordBankAccountOutcome, type RecordBankAccountOutcome } from '../../commands/record-bank-account-outcome.ts'
import { bankAccount, type BankAccountState } from '../../events/bank-account.ts'
import { fold } from '../../events/fold.ts'
import { getBankAccount, listBankAccounts } from '../../projections/bank-accounts.ts'
import { HttpError, notFound } from '../errors.ts'
import type { RouteDeps } from '../operation-routes.ts'
import { commandMetadata, create, derivedId, type Resource } from '../operations.ts'
import { attention, commandErrors, readErrors, failure, idempotencyHeaders, idParams, listQuery, pageOf } from '../schemas.ts'

const country = z.string().regex(/^[A-Z]{2}$/, 'ISO 3166-1 alpha-2 code').meta({ example: 'US' })
const billingDetails = z.strictObject({
  name: z.string().min(1).max(1024).meta({ example: 'Ada Lovelace' }),
  line1: z.string().min(1).max(1024),
  line2: z.string().max(1024).optional(),
  city: z.string().min(1).max(1024),
  postalCode: z.string().min(1).max(16),
  country,
  district: z.string().max(16).optional(),
})
const bankAddress = z.strictObject({
  bankName: z.string().max(1024).optional(),
  line1: z.string().max(1024).optional(),
  line2: z.string().max(1024).optional(),
  city: z.string().max(1024).optional(),
  country,
  district: z.string().max(16).optional(),
})

/** ABA routing numbers carry a weighted checksum (3, 7, 1). */
export function validRoutingNumber(rtn: string): boolean {
  if (!/^[0-9]{9}$/.test(rtn)) return false
  const d = [...rtn].map((c) => c.charCodeAt(0) - 48)
  return (3 * (d[0]! + d[3]! + d[6]!) + 7 * (d[1]! + d[4]! + d[7]!) + (d[2]! + d[5]! + d[8]!)) % 10 === 0
}

/** ISO 13616: move the first four characters to the end, letters to numbers, mod 97 must be 1. */
export function validIban(iban: string): boolean {
  if (!/^[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}$/.test(iban)) return false
  const rearranged = iban.slice(4) + iban.slice(0, 4)
  let remainder = 0
  for (const c of rearranged) {
    const digits = /[A-Z]/.test(c) ? String(c.charCodeAt(0) - 55) : c
    for (const d of digits) remainder = (remainder * 10 + (d.charCodeAt(0) - 48)) % 97
  }
  return remainder === 1
}

const ownerId = z.string().min(1).max(128).meta({ example: 'user-42' })
const description = z.string().max(255).optional()
const usAccount = z.strictObject({
  ownerId,
  accountNumber: z.string().regex(/^[0-9]{4,17}$/, '4 to 17 digits').meta({ example: '12340010' }),
  routingNumber: z.string().refine(validRoutingNumber, 'not a valid ABA routing number').meta({ example: '121000248' }),
  billingDetails,
  bankAddress,
  description,
})
const ibanAccount = z.strictObject({
  ownerId,
  iban: z.string().refine(validIban, 'not a valid IBAN').meta({ example: 'DE31100400480532013000' }),
  billingDetails,
  bankAddress,
  description,
})

export const bankAccountBody = z
  .object({
    id: z.uuid(),
    ownerId: z.string(),
    status: z.enum(['pending', 'active', 'failed']),
    last4: z.string().meta({ description: 'Last 4 characters of the account number or IBAN; the rest is held by Circle only' }),
    circleWireId: z.string().optional(),
    description: z.string().optional(),
    failure: failure.optional(),
    attention,
    createdAt: z.string(),
  })
  .meta({ id: 'BankAccount' })

export function toBankAccount(id: string, r: Resource<BankAccountState>): z.infer<typeof bankAccountBody> {
  const s = r.state
  const body: z.infer<typeof bankAccountBody> = { id, ownerId: s.ownerId!, status: s.status === 'none' ? 'pending' : s.status, last4: s.last4!, createdAt: r.createdAt }
  if (s.circleWireId !== undefined) body.circleWireId = s.circleWireId
  if (s.description !== undefined) body.description = s.description
  if (s.failure !== undefined) body.failure = s.failure
  if (s.attention !== undefined) body.attention = s.attention
  return body
}

/**
 * Wire bank accounts for redeem payouts. The account number goes to Circle inside this request and
 * nowhere else: the events keep the last 4 digits and Circle's id. Circle is called with a key
 * derived from the bank account id, so a retried request binds to the same Circle account.
 */
export const bankAccountRoutes: FastifyPluginAsyncZod<RouteDeps & { circle: Pick<CirclePort, 'createWireAccount'> }> = async (
  app,
  { store, read, circle },
) => {
  app.post(
    '/bank-accounts',
    {
      config: { roles: ['backend'], idempotent: true },
      schema: {
        tags: ['bank accounts'],
        summary: 'Link a wire bank account (US account + routing number, or IBAN)',
        headers: idempotencyHeaders,
        body: z.union([usAccount, ibanAccount]),
        response: { 202: bankAccountBody, ...commandErrors },
      },
    },
    async (request, reply) => {
      const body = request.body
      const bankAccountId = derivedId(request, 'bankaccount')
      const number = 'iban' in body ? body.iban : body.accountNumber
      const command: LinkBankAccount = {
        bankAccountId,
        ownerId: body.ownerId,
        accountType: 'iban' in body ? 'iban' : 'us',
        last4: number.slice(-4),
        holderName: body.billingDetails.name,
        country: body.bankAddress.country,
      }
      if (body.bankAddress.bankName !== undefined) command.bankName = body.bankAddress.bankName
      if (body.description !== undefined) command.description = body.description
      await create(store, linkBankAccount, command, request, bankAccountId)

      // Whether Circle still needs the account is a write-side question: the stream's own state decides.
      const current = await fold(store, bankAccount, bankAccountId)
      if (current.state.status === 'pending' && current.state.circleWireId === undefined) {
        const details: WireAccountDetails =
          'iban' in body
            ? { iban: body.iban, billingDetails: body.billingDetails, bankAddress: body.bankAddress }
            : { accountNumber: body.accountNumber, routingNumber: body.routingNumber, billingDetails: body.billingDetails, bankAddress: body.bankAddress }
        const outcome = await submitToCircle(circle, bankAccountId, details)
        for (const o of outcome) {
          await execute(store, recordBankAccountOutcome, { bankAccountId, outcome: o }, commandMetadata(request, outcomeCommandId(bankAccount.streamName(bankAccountId), o.type)))
        }
      }
      await read.caughtUp()
      const resource = await getBankAccount(read.db, bankAccountId)
      if (!resource) throw notFound('bank account', bankAccountId)
      return reply.code(202).header('location', `/bank-accounts/${bankAccountId}`).send(toBankAccount(bankAccountId, resource))
    },
  )

  app.get(
    '/bank-accounts/:id',
    {
      config: { roles: ['backend', 'auditor'] },
      schema: { tags: ['bank accounts'], summary: 'A linked bank account and its status', params: idParams, response: { 200: bankAccountBody, ...readErrors } },
    },
    async (request) => {
      const resource = await getBankAccount(read.db, request.params.id)
      if (!resource) throw notFound('bank account', request.params.id)
      return toBankAccount(request.params.id, resource)
    },
  )

  const listFilters = listQuery({ ownerId: ownerId.optional().meta({ description: 'Only the bank accounts of this owner' }) })
  app.get(
    '/bank-accounts',
    {
      config: { roles: ['backend', 'auditor'] },
      schema: { tags: ['bank accounts'], summary: 'Linked bank accounts, newest first', querystring: listFilters, response: { 200: pageOf(bankAccountBody), ...readErrors } },
    },
    async (request) => {
      const { limit, cursor, ownerId } = request.query
      const page = await listBankAccounts(read.db, { ownerId }, { limit, cursor })
      return { items: page.items.map((i) => toBankAccount(i.id, i.resource)), nextCursor: page.nextCursor }
    },
  )
}

async function submitToCircle(
  circle: Pick<CirclePort, 'createWireAccount'>,
  bankAccountId: string,
  details: WireAccountDetails,
): Promise<RecordBankAccountOutcome['outcome'][]> {
  try {
    const wire = await circle.createWireAccount({ idempotencyKey: circleKey(bankAccountId, 'link'), details })
    const submitted = { type: 'submitted' as const, circleWireId: wire.id }
    if (wire.status === 'complete') return [submitted, { type: 'linked', circleWireId: wire.id }]
    if (wire.status === 'failed') return [submitted, { type: 'failed', failure: { code: 'circle_wire_failed', message: 'Circle refused the wire account' } }]
    return [submitted]
  } catch (err) {
    if (err instanceof CircleError && !err.transient) {
      return [{ type: 'failed', failure: { code: `circle_${err.code}`, message: err.message } }]
    }
    throw new HttpError(503, 'circle_unavailable', 'Circle did not answer; retry with the same Idempotency-Key', { cause: err })
  }
}
