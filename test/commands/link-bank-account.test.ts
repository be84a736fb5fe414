import t from 'tap'
import { linkBankAccount, schema } from '../../src/commands/link-bank-account.ts'
import { spec } from '../helpers/spec.ts'
import { ids, linkedBank } from '../helpers/fixtures.ts'

const command = {
  bankAccountId: ids.bank,
  ownerId: 'owner-1',
  accountType: 'us' as const,
  last4: '6789',
  holderName: 'Ada Lovelace',
  bankName: 'First Bank',
  country: 'US',
}

t.test('a link request keeps only the last 4 digits of the account', async (t) => {
  const events = spec(t, linkBankAccount).when(command).then({ bankAccount: [{ type: 'BankAccountLinkRequested', data: command }] })
  t.notMatch(JSON.stringify(events), /123456789/)
})

t.test('the command schema refuses anything but 4 trailing characters', async (t) => {
  t.notOk(schema.safeParse({ ...command, last4: '123456789' }).success, 'a full account number does not fit the command')
  t.ok(schema.safeParse(command).success)
  spec(t, linkBankAccount).when({ ...command, last4: '123456789' }).thenRejects('invalid_command', 'execute parses the command with it before deciding')
})

t.test('linking an existing bank account id is rejected with already_exists', async (t) => {
  spec(t, linkBankAccount).given({ bankAccount: linkedBank() }).when(command).thenRejects('already_exists')
})

t.test('a country must be one ISO 3166-1 assigns (or XK, which IBANs use): a code of the right shape that names none is refused', async (t) => {
  for (const country of ['US', 'DE', 'IN', 'GB', 'XK']) t.ok(schema.safeParse({ ...command, country }).success, country)
  for (const country of ['XX', 'ZZ', 'EU', 'UK', 'AA']) {
    const result = schema.safeParse({ ...command, country })
    t.same(result.error?.issues.map((i) => i.message), [`country ${country} is not an ISO 3166-1 country code; use one such as "US" or "DE"`], country)
  }
  t.same(schema.safeParse({ ...command, country: 'usa' }).error?.issues.length, 1, 'a code of the wrong shape has its one message')
})

t.test('an ownerId with a space or line break at either end, or blank, is refused: redeems compare owners as written', async (t) => {
  for (const ownerId of [' owner-1', 'owner-1 ', '   ', 'owner-1\n', '\towner-1']) t.notOk(schema.safeParse({ ...command, ownerId }).success, JSON.stringify(ownerId))
  t.ok(schema.safeParse({ ...command, ownerId: 'owner 1' }).success, 'a space inside is fine')
})
