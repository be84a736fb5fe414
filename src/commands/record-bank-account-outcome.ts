import { z } from 'zod'
import { bankAccount, type BankAccountEvent, type BankAccountState } from '../events/bank-account.ts'
import { DomainError } from './errors.ts'
import type { Decider, Decision } from './handler.ts'
import { failure, id, requireExisting } from './rules.ts'

const circleWireId = z.string().min(1).max(64)
export const schema = z.object({
  bankAccountId: id,
  outcome: z.discriminatedUnion('type', [
    z.object({ type: z.literal('submitted'), circleWireId }),
    z.object({ type: z.literal('linked'), circleWireId }),
    z.object({ type: z.literal('failed'), failure }),
  ]),
})
export type RecordBankAccountOutcome = z.infer<typeof schema>
type State = { bankAccount: BankAccountState }
type Events = { bankAccount: BankAccountEvent }

function decide(command: RecordBankAccountOutcome, state: State): Decision<Events> {
  const { bankAccountId, outcome } = command
  const s = state.bankAccount
  requireExisting(s.status, 'bank account', bankAccountId)
  if (outcome.type !== 'failed' && s.circleWireId !== undefined && s.circleWireId !== outcome.circleWireId) {
    throw new DomainError('outcome_conflict', `bank account ${bankAccountId} is bound to another Circle wire account`)
  }
  const conflict = () => new DomainError('outcome_conflict', `bank account ${bankAccountId} is already ${s.status}`)
  switch (outcome.type) {
    case 'submitted':
      if (s.status === 'failed') throw conflict()
      if (s.circleWireId !== undefined) return { bankAccount: [] }
      return { bankAccount: [{ type: 'BankAccountSubmitted', data: { bankAccountId, circleWireId: outcome.circleWireId } }] }
    case 'linked':
      if (s.status === 'active') return { bankAccount: [] }
      if (s.status === 'failed') throw conflict()
      return { bankAccount: [{ type: 'BankAccountLinked', data: { bankAccountId, circleWireId: outcome.circleWireId } }] }
    case 'failed':
      if (s.status === 'failed') return { bankAccount: [] }
      if (s.status === 'active') throw conflict()
      return { bankAccount: [{ type: 'BankAccountLinkFailed', data: { bankAccountId, failure: outcome.failure } }] }
  }
}

export const recordBankAccountOutcome: Decider<RecordBankAccountOutcome, State, Events> = {
  schema,
  streams: (c) => ({ bankAccount: { type: bankAccount, id: c.bankAccountId } }),
  decide,
  correlationId: (c) => c.bankAccountId,
}
