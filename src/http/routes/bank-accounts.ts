import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { z } from 'zod'
import type { CirclePort, WireAccountDetails } from '../../adapters/circle/port.ts'
import { bankDetailsProblems, wireAccountNumberOf } from '../../commands/bank-details.ts'
import { linkBankAccount, schema as linkCommand, type LinkBankAccount } from '../../commands/link-bank-account.ts'
import type { BankAccountState } from '../../events/bank-account.ts'
import { submitWireAccount } from '../../process-manager/submit-wire-account.ts'
import { getBankAccount, listBankAccounts } from '../../projections/bank-accounts.ts'
import { HttpError, notFound } from '../errors.ts'
import type { RouteDeps } from '../command-resource-routes.ts'
import { answerCreated, commandMetadata, create, derivedId, stateOf, waitIfAsked, type Resource } from '../command-requests.ts'
import { attention, commandErrorsFor, createdResponses, readErrors, failure, idempotencyHeaders, idParams, listQuery, pageOf } from '../schemas.ts'

const country = linkCommand.shape.country.meta({ example: 'US' })
const billingDetails = z
  .strictObject({
    name: linkCommand.shape.holderName.meta({ example: 'Ada Lovelace' }),
    line1: z.string().min(1).max(1024).meta({ example: '1 Main St' }),
    line2: z.string().max(1024).optional(),
    city: z.string().min(1).max(1024).meta({ example: 'Boston' }),
    postalCode: z.string().min(1).max(16).meta({ example: '02201' }),
    country,
    district: z.string().max(16).optional().meta({ description: 'State or province; required when country is US or CA', example: 'MA' }),
  })
  .meta({ description: 'The account holder’s address' })
const bankAddress = z
  .strictObject({
    bankName: z.string().max(35).optional().meta({ description: 'Required outside the US without IBAN', example: 'Wells Fargo' }),
    line1: z.string().max(35).optional(),
    line2: z.string().max(35).optional(),
    city: z.string().max(1024).optional().meta({ description: 'Required outside the US (IBAN or not)', example: 'San Francisco' }),
    country,
    district: z.string().max(16).optional(),
  })
  .meta({ description: 'The bank’s address' })

const ownerId = linkCommand.shape.ownerId.meta({ example: 'user-42' })

/** Shapes only; which fields each of Circle's account types needs is checked by bankDetailsProblems. */
const linkBody = z
  .strictObject({
    ownerId,
    accountNumber: z.string().min(1).max(35).optional().meta({ description: 'US or non-IBAN account number (6–35 characters); with routingNumber', example: '12340010' }),
    routingNumber: z.string().min(1).max(11).optional().meta({ description: 'US: the 9-digit ABA routing number (checksum verified). Elsewhere: the bank’s SWIFT/BIC code', example: '121000248' }),
    iban: z.string().min(1).max(34).optional().meta({ description: 'IBAN (capitals, no spaces; check digits verified), instead of accountNumber + routingNumber', example: 'DE89370400440532013000' }),
    billingDetails,
    bankAddress,
    description: linkCommand.shape.description.meta({ example: 'payroll account' }),
  })
  .meta({
    description:
      'One of Circle’s three wire account types: a US account (accountNumber + ABA routingNumber), an IBAN account (iban; bankAddress.city required), ' +
      'or a non-IBAN account outside the US (accountNumber + SWIFT/BIC as routingNumber; bankAddress.bankName and city required).',
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
  .meta({
    id: 'BankAccount',
    example: { id: '9b2d4e6f-1a3c-4e5f-8a7b-0c1d2e3f4a5b', ownerId: 'user-42', status: 'active', last4: '0010', circleWireId: 'b8627ae8-732b-4d25-b947-1df8f4007a29', description: 'payroll account', createdAt: '2026-11-26T09:30:00.000Z' },
  })

export function toBankAccount(id: string, r: Resource<BankAccountState>): z.infer<typeof bankAccountBody> {
  const s = stateOf('bank account', id, r)
  const body: z.infer<typeof bankAccountBody> = { id, ownerId: s.ownerId, status: s.status, last4: s.last4, createdAt: r.createdAt }
  if (s.circleWireId !== undefined) body.circleWireId = s.circleWireId
  if (s.description !== undefined) body.description = s.description
  if (s.failure !== undefined) body.failure = s.failure
  if (s.attention !== undefined) body.attention = s.attention
  return body
}

/**
 * Wire bank accounts for redeem payouts. The account number goes to Circle inside this request and
 * nowhere else (submitWireAccount): the events keep the last 4 digits and Circle's id.
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
        body: linkBody,
        response: {
          ...createdResponses(bankAccountBody, 'resource'),
          ...commandErrorsFor([['circle_unavailable', 'Circle did not answer; retry with the same Idempotency-Key']]),
        },
      },
    },
    async (request, reply) => {
      const body = request.body
      // Checked before any event or Circle call: Circle would refuse these later as code 2.
      const problems = bankDetailsProblems(body)
      const account = wireAccountNumberOf(body)
      // Details that name no complete account always have a problem that says so.
      if (problems.length > 0 || account === undefined) {
        throw new HttpError(400, 'validation_failed', `the request is not valid: ${problems.map((p) => p.message).join('; ')}`, { details: problems })
      }
      const accountType = account.type
      const bankAccountId = derivedId(request, 'bankaccount')
      const number = account.type === 'iban' ? account.iban : account.accountNumber
      const command: LinkBankAccount = {
        bankAccountId,
        ownerId: body.ownerId,
        accountType,
        last4: number.slice(-4),
        holderName: body.billingDetails.name,
        country: body.bankAddress.country,
      }
      if (body.bankAddress.bankName !== undefined) command.bankName = body.bankAddress.bankName
      if (body.description !== undefined) command.description = body.description
      await create(store, linkBankAccount, command, request, bankAccountId)
      const details: WireAccountDetails =
        account.type === 'iban'
          ? { iban: account.iban, billingDetails: body.billingDetails, bankAddress: body.bankAddress }
          : { accountNumber: account.accountNumber, routingNumber: account.routingNumber, billingDetails: body.billingDetails, bankAddress: body.bankAddress }
      await submitWireAccount({ store, circle, logger: request.log, metrics: request.server.metrics, metadata: (commandId) => commandMetadata(request, commandId) }, bankAccountId, details)
      await read.caughtUp()
      const reread = () => getBankAccount(read.db, bankAccountId)
      const settled = (s: BankAccountState) => s.status === 'active' || s.status === 'failed'
      const created = await reread()
      if (!created) throw notFound('bank account', bankAccountId)
      const resource = await waitIfAsked(request, created, reread, settled)
      return answerCreated(request, reply, { terminal: settled(resource.state), creates: 'resource', location: `/bank-accounts/${bankAccountId}` }).send(toBankAccount(bankAccountId, resource))
    },
  )

  app.get(
    '/bank-accounts/:id',
    {
      config: { roles: ['backend', 'auditor'] },
      schema: { tags: ['bank accounts'], summary: 'A linked bank account and its status', params: idParams, response: { 200: bankAccountBody.describe('The bank account as it is now'), ...readErrors } },
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
      schema: { tags: ['bank accounts'], summary: 'Linked bank accounts, newest first', querystring: listFilters, response: { 200: pageOf(bankAccountBody).describe('A page of bank accounts, newest first'), ...readErrors } },
    },
    async (request) => {
      const { limit, cursor, ownerId } = request.query
      const page = await listBankAccounts(read.db, { ownerId }, { limit, cursor })
      return { items: page.items.map((i) => toBankAccount(i.id, i.resource)), nextCursor: page.nextCursor }
    },
  )
}
