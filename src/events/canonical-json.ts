/**
 * JSON with every object's keys sorted (JavaScript's default string order, i.e. by UTF-16 code
 * units), no whitespace, strings and numbers written as JSON.stringify writes them, and members
 * whose value is undefined left out, so equal values always give equal text: what the audit log's
 * hash chain (see the README, "Audit log: the hash chain") and request hashes (idempotency, the
 * simulator's) are computed over. An undefined array element, a function or a symbol is written
 * `null`, as JSON.stringify writes it in an array. Every object is written by its own enumerable
 * keys, never through toJSON (a Date as `{}`): what is hashed is JSON as parsed, with no Date in it.
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null'
  // Plain loops and string appends: a rebuild of the audit log spends most of its Node time here.
  let out: string
  if (Array.isArray(value)) {
    out = '['
    for (let i = 0; i < value.length; i++) {
      if (i > 0) out += ','
      out += canonicalJson(value[i])
    }
    return out + ']'
  }
  const object = value as Record<string, unknown>
  const keys = Object.keys(object).sort()
  out = '{'
  for (const key of keys) {
    const member = object[key]
    if (member === undefined) continue
    if (out.length > 1) out += ','
    out += quotedKey(key) + ':' + canonicalJson(member)
  }
  return out + '}'
}

/**
 * Keys as JSON strings, remembered: the same few dozen names recur in every event (a quarter of the
 * time above). Bounded in count and in length, as some callers hash what a client sent.
 */
const quotedKeys = new Map<string, string>()
const MAX_QUOTED_KEYS = 10_000
const MAX_QUOTED_KEY_LENGTH = 64

function quotedKey(key: string): string {
  let quoted = quotedKeys.get(key)
  if (quoted === undefined) {
    quoted = JSON.stringify(key)
    if (key.length <= MAX_QUOTED_KEY_LENGTH && quotedKeys.size < MAX_QUOTED_KEYS) quotedKeys.set(key, quoted)
  }
  return quoted
}
