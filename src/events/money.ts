/**
 * The only place amounts change representation. Inside the domain and in events an amount is an
 * integer number of micro-units (USDC has 6 decimals): `bigint` in code, a decimal-integer string in
 * event data (`"10500000"` = 10.50). At the HTTP and NATS edges it is a decimal string (`"10.50"`).
 * Never a JS number.
 */

export const DECIMALS = 6
const SCALE = 10n ** BigInt(DECIMALS)

/** Why an amount was refused; the HTTP layer turns it into a 400 naming the field. */
export type InvalidAmountReason = 'not_a_string' | 'malformed' | 'too_many_decimals' | 'not_positive' | 'above_maximum'

export class InvalidAmount extends Error {
  override name = 'InvalidAmount'
  readonly reason: InvalidAmountReason
  constructor(reason: InvalidAmountReason, message: string) {
    super(message)
    this.reason = reason
  }
}

const DECIMAL = /^(0|[1-9][0-9]*)(?:\.([0-9]+))?$/

/** Parses a decimal string such as `"10.50"` into micro-units; refuses anything else with InvalidAmount. */
export function parseAmount(input: unknown, max?: bigint): bigint {
  if (typeof input !== 'string') throw new InvalidAmount('not_a_string', 'amount must be a decimal string such as "10.50"')
  const [, whole, fraction = ''] = DECIMAL.exec(input) ?? []
  if (whole === undefined) throw new InvalidAmount('malformed', `amount "${input.slice(0, 40)}" is not a decimal string such as "10.50"`)
  if (fraction.length > DECIMALS) throw new InvalidAmount('too_many_decimals', `amount has more than ${DECIMALS} decimals`)
  const micro = BigInt(whole) * SCALE + BigInt(fraction.padEnd(DECIMALS, '0'))
  if (micro <= 0n) throw new InvalidAmount('not_positive', 'amount must be greater than 0')
  if (max !== undefined && micro > max) throw new InvalidAmount('above_maximum', `amount exceeds the maximum of ${formatAmount(max)}`)
  return micro
}

/** Micro-units as a decimal string with at least two decimals: 10500000n -> "10.50", 1n -> "0.000001". */
export function formatAmount(micro: bigint): string {
  const negative = micro < 0n
  const abs = negative ? -micro : micro
  const whole = abs / SCALE
  let fraction = (abs % SCALE).toString().padStart(DECIMALS, '0').replace(/0+$/, '')
  fraction = fraction.padEnd(2, '0')
  return `${negative ? '-' : ''}${whole}.${fraction}`
}

/** Event data form: micro-units as a decimal-integer string. */
export function encodeMicros(micro: bigint): string {
  return micro.toString()
}

/** Reads event data written by encodeMicros; anything else is a corrupt event. */
export function decodeMicros(value: string): bigint {
  if (!/^-?[0-9]+$/.test(value)) throw new TypeError(`not a micro-unit amount: ${value}`)
  return BigInt(value)
}

/** Circle's decimal strings ("3.14", "10", "0.000001") to micro-units; zero allowed (balances). */
export function parseCircleAmount(value: string): bigint {
  if (value === '0' || /^0(\.0+)?$/.test(value)) return 0n
  return parseAmount(value)
}
