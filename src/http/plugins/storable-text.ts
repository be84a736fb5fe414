import fp from 'fastify-plugin'
import { unstorableAt } from '../../adapters/postgres/text.ts'
import { HttpError } from '../errors.ts'

/**
 * Refuses, before validation and before an Idempotency-Key is looked at, a request whose body, query
 * or path holds text that cannot be stored: 400 `validation_failed`, nothing changed.
 */
export const storableTextPlugin = fp(async (app) => {
  app.addHook('preValidation', async (request) => {
    const field =
      unstorableAt(request.params, 'params') ?? unstorableAt(request.query, 'query') ?? unstorableAt(request.body, 'body')
    if (field !== undefined) throw unstorableError('request', field)
  })
})

/** 400 `validation_failed` for the `subject` (request, notification) whose `field` holds text that cannot be stored. */
export function unstorableError(subject: string, field: string): HttpError {
  const message = `${field} holds a NUL character or an unpaired surrogate, which cannot be stored`
  return new HttpError(400, 'validation_failed', `the ${subject} is not valid: ${message}`, { details: [{ field, message }] })
}
