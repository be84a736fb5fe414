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

/** The path of the first string (key or value) in `value` that cannot be stored, if any. */
function firstUnstorable(value: unknown, path: string): string | undefined {
  if (typeof value === 'string') return unstorable(value) ? path : undefined
  if (value === null || typeof value !== 'object' || Buffer.isBuffer(value)) return undefined
  for (const [key, item] of Object.entries(value)) {
    const at = `${path}.${key}`
    if (unstorable(key)) return at
    const found = firstUnstorable(item, at)
    if (found !== undefined) return found
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
      firstUnstorable(request.params, 'params') ?? firstUnstorable(request.query, 'query') ?? firstUnstorable(request.body, 'body')
    if (field === undefined) return
    const message = `${field} holds a NUL character or an unpaired surrogate, which cannot be stored`
    throw new HttpError(400, 'validation_failed', `the request is not valid: ${message}`, { details: [{ field, message }] })
  })
})
