import t from 'tap'
import { canonicalJson } from '../../src/events/canonical-json.ts'

t.test('canonical JSON ignores key order but not values', async (t) => {
  t.equal(canonicalJson({ b: 1, a: [{ d: 2, c: 3 }] }), canonicalJson({ a: [{ c: 3, d: 2 }], b: 1 }))
  t.not(canonicalJson({ a: '1' }), canonicalJson({ a: 1 }))
  t.equal(canonicalJson({ a: undefined, b: null }), '{"b":null}', 'undefined members are left out')
})

t.test('where JSON has no text for a value, canonical JSON writes what JSON.stringify writes in an array: null', async (t) => {
  // Never in a stored event (JSON has no undefined), but an event in the memory store is hashed as it was appended.
  const sparse = [1, undefined, () => 2, 3]
  t.equal(canonicalJson(sparse), JSON.stringify(sparse), 'undefined and a function in an array are null')
  t.equal(canonicalJson(sparse), '[1,null,null,3]')
  t.equal(canonicalJson(undefined), 'null', 'so the answer is always JSON text')
})

