/**
 * Whether PostgreSQL stores this text as it is: not with a NUL character (refused by `text` and
 * `jsonb`) nor an unpaired UTF-16 surrogate (which becomes U+FFFD on its way to the database).
 */
export function storableText(value: string): boolean {
  return !value.includes('\u0000') && value.isWellFormed()
}

/**
 * The path of a string (key or value) in `value` that PostgreSQL cannot store, if any. Walked with a
 * stack of its own, not by recursion, so a deeply nested body is walked like a flat one.
 */
export function unstorableAt(value: unknown, path: string): string | undefined {
  const pending: [unknown, string][] = [[value, path]]
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    const [item, at] = next
    if (typeof item === 'string') {
      if (!storableText(item)) return at
      continue
    }
    if (item === null || typeof item !== 'object' || Buffer.isBuffer(item)) continue
    for (const [key, inner] of Object.entries(item)) {
      if (!storableText(key)) return `${at}.${key}`
      pending.push([inner, `${at}.${key}`])
    }
  }
  return undefined
}
