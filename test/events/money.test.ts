import t from 'tap'
import { formatAmount, decodeMicros, InvalidAmount, parseAmount, parseCircleAmount, encodeMicros } from '../../src/events/money.ts'

const reasonOf = (f: () => unknown): string => {
  try {
    f()
  } catch (err) {
    return err instanceof InvalidAmount ? err.reason : 'not InvalidAmount'
  }
  return 'accepted'
}

t.test('decimal strings parse into micro-units', async (t) => {
  t.equal(parseAmount('10.50'), 10_500_000n)
  t.equal(parseAmount('10'), 10_000_000n)
  t.equal(parseAmount('0.000001'), 1n)
  t.equal(parseAmount('0.1'), 100_000n)
  t.equal(parseAmount('123456789012345678.123456'), 123_456_789_012_345_678_123_456n, 'beyond 2^53 stays exact')
})

t.test('malformed amounts are refused with a typed reason', async (t) => {
  const cases: [unknown, string][] = [
    ['1e3', 'malformed'],
    ['-1', 'malformed'],
    ['0', 'not_positive'],
    ['0.000000', 'not_positive'],
    ['1.1234567', 'too_many_decimals'],
    [' 1', 'malformed'],
    ['1 ', 'malformed'],
    ['', 'malformed'],
    ['01.5', 'malformed'],
    ['.5', 'malformed'],
    ['1.', 'malformed'],
    ['1,50', 'malformed'],
    ['+1', 'malformed'],
    ['0x10', 'malformed'],
    ['Infinity', 'malformed'],
    ['NaN', 'malformed'],
    ['１', 'malformed'],
    [10.5, 'not_a_string'],
    [10, 'not_a_string'],
    [10n, 'not_a_string'],
    [null, 'not_a_string'],
    [undefined, 'not_a_string'],
    [{ amount: '1' }, 'not_a_string'],
  ]
  for (const [input, reason] of cases) {
    t.throws(() => parseAmount(input), InvalidAmount, `${JSON.stringify(String(input))} is refused`)
    t.equal(reasonOf(() => parseAmount(input)), reason, `${JSON.stringify(String(input))} -> ${reason}`)
  }
})

t.test('the configured maximum is enforced inclusively', async (t) => {
  const max = parseAmount('1000')
  t.equal(parseAmount('1000', max), max)
  t.equal(reasonOf(() => parseAmount('1000.000001', max)), 'above_maximum')
})

t.test('micro-units format as decimal strings and round-trip', async (t) => {
  t.equal(formatAmount(10_500_000n), '10.50')
  t.equal(formatAmount(10_000_000n), '10.00')
  t.equal(formatAmount(1n), '0.000001')
  t.equal(formatAmount(0n), '0.00')
  t.equal(formatAmount(1_234_567n), '1.234567')
  t.equal(formatAmount(-2_500_000n), '-2.50')
  for (const s of ['0.01', '1.234567', '999999.99', '42.00']) t.equal(formatAmount(parseAmount(s)), s)
  t.equal(decodeMicros(encodeMicros(123n)), 123n)
  t.throws(() => decodeMicros('1.5'), TypeError)
})

t.test("Circle's amounts parse including zero balances", async (t) => {
  t.equal(parseCircleAmount('0'), 0n)
  t.equal(parseCircleAmount('0.00'), 0n)
  t.equal(parseCircleAmount('3.14'), 3_140_000n)
})
