/**
 * Whether PostgreSQL stores this text as it is: not with a NUL character (refused by `text` and
 * `jsonb`) nor an unpaired UTF-16 surrogate (which becomes U+FFFD on its way to the database).
 */
export function storableText(value: string): boolean {
  return !value.includes('\u0000') && value.isWellFormed()
}
