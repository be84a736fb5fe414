import t from 'tap'
import { decide } from '../../src/commands/record-bank-account-outcome.ts'
import { bankAccount } from '../../src/events/bank-account.ts'
import { given, thenRejects } from '../helpers/decider.ts'
import { ids, linkedBank } from '../helpers/fixtures.ts'

const bankAccountId = ids.bank
const requested = linkedBank().slice(0, 1)
const submitted = linkedBank().slice(0, 2)
const failure = { code: 'invalid_wire_rtn', message: 'bad routing number' }
const at = (events: ReturnType<typeof linkedBank>) => ({ bankAccount: given(bankAccount, events) })

t.test('a link request is submitted, then linked', async (t) => {
  t.same(decide({ bankAccountId, outcome: { type: 'submitted', circleWireId: 'wire-1' } }, at(requested)).bankAccount, [
    { type: 'BankAccountSubmitted', data: { bankAccountId, circleWireId: 'wire-1' } },
  ])
  t.same(decide({ bankAccountId, outcome: { type: 'linked', circleWireId: 'wire-1' } }, at(submitted)).bankAccount, [
    { type: 'BankAccountLinked', data: { bankAccountId, circleWireId: 'wire-1' } },
  ])
  t.same(decide({ bankAccountId, outcome: { type: 'failed', failure } }, at(submitted)).bankAccount, [
    { type: 'BankAccountLinkFailed', data: { bankAccountId, failure } },
  ])
})

t.test('repeats append nothing', async (t) => {
  t.same(decide({ bankAccountId, outcome: { type: 'submitted', circleWireId: 'wire-1' } }, at(submitted)).bankAccount, [])
  t.same(decide({ bankAccountId, outcome: { type: 'linked', circleWireId: 'wire-1' } }, at(linkedBank())).bankAccount, [])
  t.same(decide({ bankAccountId, outcome: { type: 'submitted', circleWireId: 'wire-1' } }, at(linkedBank())).bankAccount, [], 'a late submission report')
  const failedState = [...requested, { type: 'BankAccountLinkFailed' as const, data: { bankAccountId, failure } }]
  t.same(decide({ bankAccountId, outcome: { type: 'failed', failure } }, at(failedState)).bankAccount, [])
})

t.test('contradictions are rejected with outcome_conflict', async (t) => {
  thenRejects(t, () => decide({ bankAccountId, outcome: { type: 'failed', failure } }, at(linkedBank())), 'outcome_conflict')
  thenRejects(t, () => decide({ bankAccountId, outcome: { type: 'linked', circleWireId: 'wire-2' } }, at(submitted)), 'outcome_conflict')
  const failedState = [...requested, { type: 'BankAccountLinkFailed' as const, data: { bankAccountId, failure } }]
  thenRejects(t, () => decide({ bankAccountId, outcome: { type: 'linked', circleWireId: 'wire-1' } }, at(failedState)), 'outcome_conflict')
  thenRejects(t, () => decide({ bankAccountId, outcome: { type: 'submitted', circleWireId: 'wire-1' } }, at(failedState)), 'outcome_conflict')
  thenRejects(t, () => decide({ bankAccountId, outcome: { type: 'linked', circleWireId: 'wire-1' } }, at([])), 'not_found')
})
