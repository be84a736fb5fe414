import t from 'tap'
import { accountTypeOf, bankDetailsProblems, validIban, validRoutingNumber, validSwiftCode, type BankDetails } from '../../src/commands/bank-details.ts'

const billingDetails = { country: 'US', district: 'MA' }
const us: BankDetails = { accountNumber: '123456789012', routingNumber: '121000248', billingDetails, bankAddress: { country: 'US' } }
const iban: BankDetails = { iban: 'DE89370400440532013000', billingDetails: { country: 'DE' }, bankAddress: { country: 'DE', city: 'Frankfurt' } }
const swift: BankDetails = { accountNumber: '0321800123', routingNumber: 'SBININBB354', billingDetails: { country: 'IN' }, bankAddress: { country: 'IN', city: 'Mumbai', bankName: 'State Bank of India' } }
const fields = (d: BankDetails) => bankDetailsProblems(d).map((p) => p.field)

t.test('routing numbers, IBANs and SWIFT codes are checked by their checksums and formats', async (t) => {
  t.ok(validRoutingNumber('121000248'))
  t.ok(validRoutingNumber('011000015'))
  t.notOk(validRoutingNumber('121000249'), 'one digit off fails the 3-7-1 checksum')
  t.notOk(validRoutingNumber('12100024'))
  t.ok(validIban('DE89370400440532013000'))
  t.ok(validIban('GB82WEST12345698765432'))
  t.notOk(validIban('DE89370400440532013001'), 'one digit off fails mod 97')
  t.notOk(validIban('de89370400440532013000'))
  t.ok(validSwiftCode('DEUTDEFF'))
  t.ok(validSwiftCode('SBININBB354'))
  t.notOk(validSwiftCode('DEUTDEF'))
  t.notOk(validSwiftCode('121000248'))
})

t.test('the account type follows Circle: IBAN, a US account, or an account number elsewhere', async (t) => {
  t.equal(accountTypeOf(us), 'us')
  t.equal(accountTypeOf(iban), 'iban')
  t.equal(accountTypeOf(swift), 'swift')
  t.equal(accountTypeOf({ billingDetails, bankAddress: { country: 'US' } }), undefined)
})

t.test('details meeting Circle’s rules have no problems', async (t) => {
  t.same(bankDetailsProblems(us), [])
  t.same(bankDetailsProblems(iban), [])
  t.same(bankDetailsProblems(swift), [])
})

t.test('each rule Circle enforces names its field', async (t) => {
  t.same(fields({ ...iban, bankAddress: { country: 'DE' } }), ['body.bankAddress.city'], 'an IBAN account needs the bank’s city')
  t.same(fields({ ...us, routingNumber: '121000249' }), ['body.routingNumber'], 'an ABA number failing its checksum')
  t.same(fields({ ...us, routingNumber: undefined }), ['body.routingNumber'], 'an account number without a routing number')
  t.same(fields({ ...us, billingDetails: { country: 'US' } }), ['body.billingDetails.district'], 'a US billing address needs its state')
  t.same(fields({ ...us, billingDetails: { country: 'CA' } }), ['body.billingDetails.district'], 'a Canadian one its province')
  t.same(fields({ ...us, accountNumber: '12345' }), ['body.accountNumber'], 'Circle wants at least 6 characters')
  t.same(fields({ ...swift, bankAddress: { country: 'IN' } }), ['body.bankAddress.bankName', 'body.bankAddress.city'], 'a non-IBAN bank outside the US needs its name and city')
  t.same(fields({ ...swift, routingNumber: '121000248' }), ['body.routingNumber'], 'outside the US the routing number is a SWIFT code')
  t.same(fields({ ...iban, iban: 'DE00370400440532013000' }), ['body.iban'])
  t.same(fields({ ...iban, bankAddress: { country: 'FR', city: 'Paris' } }), ['body.bankAddress.country'], 'the IBAN’s country is the bank’s')
  t.same(fields({ ...iban, accountNumber: '123456789' }), ['body.accountNumber'], 'an IBAN or an account number, not both')
  t.same(fields({ billingDetails: { country: 'DE' }, bankAddress: { country: 'DE' } }), ['body.accountNumber'], 'neither is given')
  for (const p of bankDetailsProblems({ ...iban, bankAddress: { country: 'DE' } })) t.match(p.message, /bankAddress\.city/, 'the message names the field too')
})
