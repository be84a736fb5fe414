import fp from 'fastify-plugin'
import { storableText } from '../../adapters/postgres/text.ts'
import { HttpError } from '../errors.ts'

/**
 * The path of a string (key or value) in `value` that PostgreSQL cannot store, if any. Walked with a
 * stack of its own, not by recursion, so a deeply nested body is walked like a flat one.
 */
function unstorableAt(value: unknown, path: string): string | undefined {
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
