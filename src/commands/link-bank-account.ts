import { z } from 'zod'
import { bankAccount, type BankAccountEvent, type BankAccountLinkRequested, type BankAccountState } from '../events/bank-account.ts'
import { COUNTRY_CODES } from './countries.ts'
import type { Decider, Decision } from './handler.ts'
import { id, ownerId, requireNew } from './rules.ts'

/** Only the last 4 digits reach the domain; the full number goes to Circle and nowhere else. */
export const schema = z.object({
  bankAccountId: id,
  ownerId,
  accountType: z.enum(['us', 'iban', 'swift']),
  last4: z.string().regex(/^[0-9A-Z]{4}$/),
  /** The billing name Circle keeps (up to 1024 characters). */
  holderName: z.string().min(1).max(1024),
  bankName: z.string().max(255).optional(),
  country: z
    .string()
    .regex(/^[A-Z]{2}$/, { error: 'country must be a two-letter ISO 3166-1 code in capitals, such as "US"', abort: true })
    .refine((code) => COUNTRY_CODES.has(code), { error: (issue) => `country ${String(issue.input)} is not an ISO 3166-1 country code; use one such as "US" or "DE"`, abort: true }),
  description: z.string().max(255).optional(),
})
export type LinkBankAccount = z.infer<typeof schema>
type State = { bankAccount: BankAccountState }
type Events = { bankAccount: BankAccountEvent }

function decide(command: LinkBankAccount, state: State): Decision<Events> {
  requireNew(state.bankAccount.status, 'bank account', command.bankAccountId)
  const { bankAccountId, ownerId, accountType, last4, holderName, country } = command
  const data: BankAccountLinkRequested['data'] = { bankAccountId, ownerId, accountType, last4, holderName, country }
  if (command.bankName !== undefined) data.bankName = command.bankName
  if (command.description !== undefined) data.description = command.description
  return { bankAccount: [{ type: 'BankAccountLinkRequested', data }] }
}

export const linkBankAccount: Decider<LinkBankAccount, State, Events> = {
  schema,
  streams: (c) => ({ bankAccount: { type: bankAccount, id: c.bankAccountId } }),
  decide,
  correlationId: (c) => c.bankAccountId,
}
