import fp from 'fastify-plugin'
import { HttpError } from '../errors.ts'

/**
 * Text PostgreSQL cannot store: a NUL character (refused by `text` and `jsonb`) or an unpaired UTF-16
 * surrogate (which becomes U+FFFD on its way to the database, so what is stored would differ from
 * what was sent). Either would otherwise fail deep in a command or a read as a 500.
 */
function unstorable(value: string): boolean {
  return value.includes('\u0000') || !value.isWellFormed()
}

/**
 * The path of a string (key or value) in `value` that cannot be stored, if any. Walked with a
 * stack of its own, not by recursion, so a deeply nested body is walked like a flat one.
 */
function unstorableAt(value: unknown, path: string): string | undefined {
  const pending: [unknown, string][] = [[value, path]]
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    const [item, at] = next
    if (typeof item === 'string') {
      if (unstorable(item)) return at
      continue
    }
    if (item === null || typeof item !== 'object' || Buffer.isBuffer(item)) continue
    for (const [key, inner] of Object.entries(item)) {
      if (unstorable(key)) return `${at}.${key}`
      pending.push([inner, `${at}.${key}`])
    }
  }
  return undefined
}

/**
 * Refuses, before validation and before an Idempotency-Key is looked at, a request whose body, query
 * or path holds text that cannot be stored: 400 `validation_failed`, nothing changed.
 */
export const storableTextPlugin = fp(async (app) => {
  app.addHook('preValidation', async (request) => {
    const field =
      unstorableAt(request.params, 'params') ?? unstorableAt(request.query, 'query') ?? unstorableAt(request.body, 'body')
    if (field === undefined) return
    const message = `${field} holds a NUL character or an unpaired surrogate, which cannot be stored`
    throw new HttpError(400, 'validation_failed', `the request is not valid: ${message}`, { details: [{ field, message }] })
  })
})
