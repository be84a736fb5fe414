import { randomUUID } from 'node:crypto'
import t from 'tap'
import { bankAccounts } from '../../src/projections/bank-accounts.ts'
import { projectionSpec } from '../helpers/projection.ts'

t.test('a batch naming more documents than one statement has parameters for is written, updated and redelivered in several statements', async (t) => {
  const { db, record, apply } = await projectionSpec(t)
  // 10,000 documents of 9+ columns: over PostgreSQL's 65,535 parameters in one INSERT.
  const ids = Array.from({ length: 10_000 }, () => randomUUID())
  const requested = ids.map((id, i) =>
    record(`bankaccount-${id}`, { type: 'BankAccountLinkRequested', data: { bankAccountId: id, ownerId: `owner-${i % 7}`, accountType: 'us', last4: '0010', holderName: 'Ada', country: 'US' } }),
  )
  await apply(bankAccounts.projection, requested)
  const count = async (status: string) => Number((await db.selectFrom('bank_accounts').select((eb) => eb.fn.countAll().as('n')).where('status', '=', status).executeTakeFirstOrThrow()).n)
  t.equal(await count('pending'), 10_000, 'every document inserted')
  const linked = ids.map((id, i) => record(`bankaccount-${id}`, { type: 'BankAccountLinked', data: { bankAccountId: id, circleWireId: `w-${i}` } }))
  await apply(bankAccounts.projection, linked)
  t.equal(await count('active'), 10_000, 'every document updated in place')
  const last = await db.selectFrom('bank_accounts').select(['circle_wire_id', 'revision']).where('id', '=', ids.at(-1)!).executeTakeFirstOrThrow()
  t.same(last, { circle_wire_id: 'w-9999', revision: 1 }, 'the last document of the batch is there, at its last revision')

  // Both batches handed over again in one, as a redelivery would: every document already holds them.
  const rows = () => db.selectFrom('bank_accounts').select(['id', 'revision', 'status', 'circle_wire_id', 'updated_at']).orderBy('id').execute()
  const before = await rows()
  await apply(bankAccounts.projection, [...requested, ...linked])
  t.same(await rows(), before, 'a redelivered batch of 20,000 events changes nothing')
})
