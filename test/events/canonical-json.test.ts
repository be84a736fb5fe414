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

t.test('the canonical form is the straightforward definition, for any JSON value', async (t) => {
  // The definition written plainly (the first implementation); the real one is a faster form of it.
  // (Not Object.fromEntries + JSON.stringify: an object puts integer-like keys such as "9" and "10" first, in numeric order.)
  const plain = (v: unknown): string =>
    v === null || typeof v !== 'object'
      ? JSON.stringify(v)
      : Array.isArray(v)
        ? `[${v.map(plain).join(',')}]`
        : `{${Object.keys(v)
            .sort()
            .filter((k) => (v as Record<string, unknown>)[k] !== undefined)
            .map((k) => `${JSON.stringify(k)}:${plain((v as Record<string, unknown>)[k])}`)
            .join(',')}}`
  // A small deterministic generator (no dependency): nested objects and arrays, odd keys and strings, numbers of every kind.
  let seed = 42
  const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31
  const strings = ['', 'a', 'B', 'ä', 'é', '🙂', 'quote "', 'back\\slash', 'new\nline', '\u0000', '\u2028', 'Z', '10', '9', '_']
  const value = (depth: number): unknown => {
    const r = next()
    if (depth > 3 || r < 0.3) return [null, true, false, 0, -0.5, 1e21, 123456789, 'x'][Math.floor(next() * 8)]
    if (r < 0.45) return strings[Math.floor(next() * strings.length)]
    if (r < 0.65) return Array.from({ length: Math.floor(next() * 4) }, () => value(depth + 1))
    const o: Record<string, unknown> = {}
    for (let i = Math.floor(next() * 6); i > 0; i--) o[strings[Math.floor(next() * strings.length)]! + (next() < 0.5 ? '' : 'k')] = value(depth + 1)
    return o
  }
  for (let i = 0; i < 500; i++) {
    const v = value(0)
    t.equal(canonicalJson(v), plain(v), `value ${i}`)
  }
  // Keys' JSON text is remembered up to a count and a length: past both, and the same keys again, the same text.
  const many = Object.fromEntries(Array.from({ length: 12_000 }, (_, i) => [`key "${i}"\n`, i]))
  const long = { ['x'.repeat(65)]: 1, ['y"'.repeat(40)]: 2, ['z'.repeat(64)]: 3 }
  for (let round = 0; round < 2; round++) {
    t.equal(canonicalJson(many), plain(many), `12,000 distinct keys, round ${round}`)
    t.equal(canonicalJson(long), plain(long), `keys longer than those remembered, round ${round}`)
  }
  t.equal(canonicalJson({ b: undefined, a: 1 }), '{"a":1}', 'an undefined member is left out')
  t.equal(canonicalJson({ a: undefined, b: 1 }), '{"b":1}', 'with no comma left over when it came first')
})
