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
