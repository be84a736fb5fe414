import t from 'tap'
import { decodeState, encodeState } from '../../src/projections/document-codec.ts'

t.test('bigints survive the round trip; strings that look like numbers stay strings', async (t) => {
  const state = { amount: 10500000n, nested: { reservations: { a: 1n, b: 0n } }, list: [2n], description: '5n', tagged: '$micros' }
  t.same(decodeState(encodeState(state)), state)
  t.same(decodeState(JSON.parse(encodeState(state))), state, 'from jsonb (already parsed) as well')
})
