import t, { type Test } from 'tap'
import { recordBankAccountOutcome, type RecordBankAccountOutcome } from '../../src/commands/record-bank-account-outcome.ts'
import type { BankAccountEvent } from '../../src/events/bank-account.ts'
import { spec } from '../helpers/spec.ts'
import { ids, linkedBank } from '../helpers/fixtures.ts'

const bankAccountId = ids.bank
const requested = linkedBank().slice(0, 1)
const submitted = linkedBank().slice(0, 2)
const failure = { code: 'invalid_wire_rtn', message: 'bad routing number' }
/** The bank account's past events, then an outcome. */
const at = (t: Test, events: BankAccountEvent[], outcome: RecordBankAccountOutcome['outcome']) =>
  spec(t, recordBankAccountOutcome).given({ bankAccount: events }).when({ bankAccountId, outcome })

t.test('a link request is submitted, then linked', async (t) => {
  at(t, requested, { type: 'submitted', circleWireId: 'wire-1' }).then({ bankAccount: [{ type: 'BankAccountSubmitted', data: { bankAccountId, circleWireId: 'wire-1' } }] })
  at(t, submitted, { type: 'linked', circleWireId: 'wire-1' }).then({ bankAccount: [{ type: 'BankAccountLinked', data: { bankAccountId, circleWireId: 'wire-1' } }] })
  at(t, submitted, { type: 'failed', failure }).then({ bankAccount: [{ type: 'BankAccountLinkFailed', data: { bankAccountId, failure } }] })
})

t.test('repeats append nothing', async (t) => {
  at(t, submitted, { type: 'submitted', circleWireId: 'wire-1' }).thenNothing()
  at(t, linkedBank(), { type: 'linked', circleWireId: 'wire-1' }).thenNothing()
  at(t, linkedBank(), { type: 'submitted', circleWireId: 'wire-1' }).thenNothing('a late submission report')
  const failedState = [...requested, { type: 'BankAccountLinkFailed' as const, data: { bankAccountId, failure } }]
  at(t, failedState, { type: 'failed', failure }).thenNothing()
})

t.test('contradictions are rejected with outcome_conflict', async (t) => {
  at(t, linkedBank(), { type: 'failed', failure }).thenRejects('outcome_conflict')
  at(t, submitted, { type: 'linked', circleWireId: 'wire-2' }).thenRejects('outcome_conflict')
  const failedState = [...requested, { type: 'BankAccountLinkFailed' as const, data: { bankAccountId, failure } }]
  at(t, failedState, { type: 'linked', circleWireId: 'wire-1' }).thenRejects('outcome_conflict')
  at(t, failedState, { type: 'submitted', circleWireId: 'wire-1' }).thenRejects('outcome_conflict')
  at(t, [], { type: 'linked', circleWireId: 'wire-1' }).thenRejects('not_found')
})
