import t from 'tap'
import { positionKey } from '../../src/ledger/position-key.ts'

t.test('position keys sort as text the way the store orders positions', async (t) => {
  const positions = ['1', '2', '9', '10', '11', '99', '100', '1000000', '18446744073709551615']
  const shuffled = [...positions].reverse()
  t.same(shuffled.map(positionKey).sort().map((k) => k.replace(/^0+/, '')), positions, 'decimal positions of any width')
  t.equal(positionKey('42'), '00000000000000000042')
  const kurrent = '00000000000000001234/00000000000000001230'
  t.equal(positionKey(kurrent), kurrent, "KurrentDB's fixed-width positions are kept as they are")
})
