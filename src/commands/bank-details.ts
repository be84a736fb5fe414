/**
 * Wire bank account details checked the way Circle's wire-account creation checks them, so that an
 * account Circle would refuse is refused here, naming the field, before any event or Circle call.
 * Circle knows three account types, chosen by the fields sent and the bank's country:
 * - US: `accountNumber` + ABA `routingNumber`; the bank address needs only its country;
 * - IBAN: `iban`; the bank address needs its city and country;
 * - other countries without IBAN: `accountNumber` + the bank's SWIFT/BIC as `routingNumber`; the
 *   bank address needs its name, city and country.
 * Billing addresses in the US and Canada need `district` (the two-letter state or province).
 */

export type BankAccountType = 'us' | 'iban' | 'swift'

export interface BankDetails {
  accountNumber?: string | undefined
  routingNumber?: string | undefined
  iban?: string | undefined
  billingDetails: { country: string; district?: string | undefined }
  bankAddress: { country: string; city?: string | undefined; bankName?: string | undefined }
}

/** One problem with one field; `field` is the request path (`body.bankAddress.city`). */
export interface FieldProblem {
  field: string
  message: string
}

/** ABA routing numbers carry a weighted checksum (3, 7, 1). */
export function validRoutingNumber(rtn: string): boolean {
  if (!/^[0-9]{9}$/.test(rtn)) return false
  const digit = (i: number) => rtn.charCodeAt(i) - 48
  let sum = 0
  for (let i = 0; i < 9; i += 3) sum += 3 * digit(i) + 7 * digit(i + 1) + digit(i + 2)
  return sum % 10 === 0
}

/** ISO 13616: move the first four characters to the end, letters to numbers, mod 97 must be 1. */
export function validIban(iban: string): boolean {
  if (!/^[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}$/.test(iban)) return false
  const rearranged = iban.slice(4) + iban.slice(0, 4)
  let remainder = 0
  for (const c of rearranged) {
    const digits = /[A-Z]/.test(c) ? String(c.charCodeAt(0) - 55) : c
    for (const d of digits) remainder = (remainder * 10 + (d.charCodeAt(0) - 48)) % 97
  }
  return remainder === 1
}

/** ISO 9362 BIC: bank (4 letters), country (2 letters), location (2), optional branch (3). */
export function validSwiftCode(code: string): boolean {
  return /^[A-Z]{4}[A-Z]{2}[A-Z0-9]{2}([A-Z0-9]{3})?$/.test(code)
}

/** Which of Circle's account types these details are; `undefined` when neither an IBAN nor an account number is given. */
export function accountTypeOf(details: BankDetails): BankAccountType | undefined {
  if (details.iban !== undefined) return 'iban'
  if (details.accountNumber === undefined) return undefined
  return details.bankAddress.country === 'US' ? 'us' : 'swift'
}

/** The number an account is known by and how it routes, as Circle's account type needs them. */
export type WireAccountNumber = { type: 'iban'; iban: string } | { type: 'us' | 'swift'; accountNumber: string; routingNumber: string }

/** The details' account number and routing; `undefined` when they name no complete account (bankDetailsProblems says why). */
export function wireAccountNumberOf(details: BankDetails): WireAccountNumber | undefined {
  if (details.iban !== undefined) return { type: 'iban', iban: details.iban }
  if (details.accountNumber === undefined || details.routingNumber === undefined) return undefined
  return { type: details.bankAddress.country === 'US' ? 'us' : 'swift', accountNumber: details.accountNumber, routingNumber: details.routingNumber }
}

/** Every problem Circle would refuse the details for, one per field; empty when Circle's rules are met. */
export function bankDetailsProblems(details: BankDetails): FieldProblem[] {
  const problems: FieldProblem[] = []
  const problem = (field: string, message: string) => problems.push({ field: `body.${field}`, message })
  const type = accountTypeOf(details)
  if (type === undefined) problem('accountNumber', 'send either accountNumber with routingNumber, or iban')
  const { iban, accountNumber } = details
  if (type === 'iban' && iban !== undefined) {
    if (details.accountNumber !== undefined) problem('accountNumber', 'send either iban or accountNumber, not both')
    if (details.routingNumber !== undefined) problem('routingNumber', 'an IBAN account has no routingNumber')
    if (!validIban(iban)) problem('iban', 'iban is not a valid IBAN (its check digits do not match; use capitals and no spaces)')
    else if (iban.slice(0, 2) !== details.bankAddress.country) problem('bankAddress.country', `bankAddress.country must be ${iban.slice(0, 2)}, the IBAN's country`)
    if (!details.bankAddress.city) problem('bankAddress.city', "bankAddress.city is required for an IBAN account (Circle needs the bank's city)")
  }
  if ((type === 'us' || type === 'swift') && accountNumber !== undefined) {
    if (!/^[0-9A-Z]{6,35}$/.test(accountNumber)) problem('accountNumber', 'accountNumber must be 6 to 35 digits or capital letters')
    if (details.routingNumber === undefined) {
      problem('routingNumber', type === 'us' ? 'routingNumber (the 9-digit ABA number) is required with accountNumber' : "routingNumber (the bank's SWIFT/BIC code) is required with accountNumber")
    } else if (type === 'us' && !validRoutingNumber(details.routingNumber)) {
      problem('routingNumber', 'routingNumber is not a valid ABA routing number (9 digits whose checksum must match)')
    } else if (type === 'swift' && !validSwiftCode(details.routingNumber)) {
      problem('routingNumber', "outside the US, routingNumber is the bank's SWIFT/BIC code: 8 or 11 capital letters and digits, such as DEUTDEFF")
    }
  }
  if (type === 'swift') {
    if (!details.bankAddress.bankName) problem('bankAddress.bankName', 'bankAddress.bankName is required for a bank outside the US without IBAN')
    if (!details.bankAddress.city) problem('bankAddress.city', 'bankAddress.city is required for a bank outside the US')
  }
  const billing = details.billingDetails
  if ((billing.country === 'US' || billing.country === 'CA') && !billing.district) {
    problem('billingDetails.district', `billingDetails.district (the two-letter ${billing.country === 'US' ? 'state' : 'province'} code) is required when billingDetails.country is ${billing.country}`)
  }
  return problems
}
