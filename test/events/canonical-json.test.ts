import t from 'tap'
import { canonicalJson } from '../../src/events/canonical-json.ts'

t.test('canonical JSON ignores key order but not values', async (t) => {
  t.equal(canonicalJson({ b: 1, a: [{ d: 2, c: 3 }] }), canonicalJson({ a: [{ c: 3, d: 2 }], b: 1 }))
  t.not(canonicalJson({ a: '1' }), canonicalJson({ a: 1 }))
  t.equal(canonicalJson({ a: undefined, b: null }), '{"b":null}', 'undefined members are left out')
})
