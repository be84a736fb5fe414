/**
 * Folded states hold bigints (micro-units), which JSON cannot carry. They are stored as
 * `{"$micros": "123"}`: an object, so no string a caller sent (a description, a name) can be
 * mistaken for one.
 */
export function encodeState(state: unknown): string {
  return JSON.stringify(state, (_key, value: unknown) => (typeof value === 'bigint' ? { $micros: value.toString() } : value))
}

export function decodeState<S>(json: unknown): S {
  const revive = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(revive)
    if (value !== null && typeof value === 'object') {
      const entries = Object.entries(value)
      const [only, ...more] = entries
      if (only !== undefined && more.length === 0 && only[0] === '$micros' && typeof only[1] === 'string') return BigInt(only[1])
      return Object.fromEntries(entries.map(([k, v]) => [k, revive(v)]))
    }
    return value
  }
  return revive(typeof json === 'string' ? JSON.parse(json) : json) as S
}
