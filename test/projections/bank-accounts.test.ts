import { randomUUID } from 'node:crypto'
import t from 'tap'
import { bankAccounts, listBankAccounts } from '../../src/projections/bank-accounts.ts'
import { attentionCycle, projectionSpec } from '../helpers/projection.ts'

t.test('bank account rows keep the last 4 digits and Circle wire id, linked or failed', async (t) => {
  const spec = await projectionSpec(t)
  const { db, record, apply, coveredAll } = spec
  const [linked, failed] = [randomUUID(), randomUUID()]
  const requested = (id: string) =>
    record(`bankaccount-${id}`, { type: 'BankAccountLinkRequested', data: { bankAccountId: id, ownerId: 'owner-1', accountType: 'us', last4: '0010', holderName: 'Ada', country: 'US' } })
  const events = [
    requested(linked),
    requested(failed),
    record(`bankaccount-${linked}`, { type: 'BankAccountSubmitted', data: { bankAccountId: linked, circleWireId: 'w-1' } }),
    record(`bankaccount-${linked}`, { type: 'BankAccountLinked', data: { bankAccountId: linked, circleWireId: 'w-1' } }),
    record(`bankaccount-${failed}`, { type: 'BankAccountLinkFailed', data: { bankAccountId: failed, failure: { code: 'circle_2', message: 'bad' } } }),
  ]
  await apply(bankAccounts.projection, events)
  await apply(bankAccounts.projection, events.slice(2))
  const rows = await db.selectFrom('bank_accounts').select(['id', 'status', 'circle_wire_id', 'owner_id']).orderBy('status').execute()
  t.same(rows, [
    { id: linked, status: 'active', circle_wire_id: 'w-1', owner_id: 'owner-1' },
    { id: failed, status: 'failed', circle_wire_id: null, owner_id: 'owner-1' },
  ])
  t.same((await listBankAccounts(db, { ownerId: 'owner-1' }, {})).items.map((i) => i.resource.state.last4), ['0010', '0010'])
  t.equal(JSON.stringify(await db.selectFrom('bank_accounts').select('state').execute()).includes('12340010'), false, 'never the full number')
  await attentionCycle(t, spec, bankAccounts, linked)
  coveredAll(t, bankAccounts.projection)
})
