import t from 'tap'
import { problemsOf } from '../../src/http/validation.ts'

const issue = (keyword: string, instancePath: string, message: string, params: Record<string, unknown> = {}) => ({ keyword, instancePath, message, params })

t.test('validator wording becomes a sentence naming the field; a schema’s own message is kept', async (t) => {
  t.same(problemsOf('body', issue('invalid_type', '/ownerId', 'Invalid input: expected string, received undefined', { expected: 'string' })), [{ field: 'body.ownerId', message: 'ownerId is required' }])
  t.same(problemsOf('body', issue('invalid_type', '/ownerId', 'Invalid input: expected string, received number', { expected: 'string' })), [{ field: 'body.ownerId', message: 'ownerId must be a string' }])
  t.same(problemsOf('body', issue('invalid_type', '', 'Invalid input: expected object, received array', { expected: 'object' })), [{ field: 'body', message: 'the body must be a JSON object' }])
  t.same(problemsOf('body', issue('too_small', '/billingDetails/name', 'Too small: expected string to have >=1 characters', { origin: 'string', minimum: 1 })), [{ field: 'body.billingDetails.name', message: 'name must not be empty' }])
  t.same(problemsOf('body', issue('too_big', '/description', 'Too big: expected string to have <=255 characters', { origin: 'string', maximum: 255 })), [{ field: 'body.description', message: 'description must be at most 255 characters' }])
  t.same(problemsOf('params', issue('invalid_format', '/id', 'Invalid UUID', { format: 'uuid' })), [{ field: 'params.id', message: 'id must be a UUID in lower case, such as 3f0c6d2e-8a4b-4c1d-9e2f-5a6b7c8d9e0f' }])
  t.same(problemsOf('body', issue('invalid_value', '/currency', 'Invalid input: expected "USD"', { values: ['USD'] })), [{ field: 'body.currency', message: 'currency must be "USD"' }])
  t.same(problemsOf('body', issue('custom', '/amount', 'amount must be greater than 0')), [{ field: 'body.amount', message: 'amount must be greater than 0' }])
})

t.test('one detail per unknown field', async (t) => {
  t.same(problemsOf('body', issue('unrecognized_keys', '', 'Unrecognized keys: "fee", "status"', { keys: ['fee', 'status'] })), [
    { field: 'body.fee', message: 'fee is not a known field; remove it' },
    { field: 'body.status', message: 'status is not a known field; remove it' },
  ])
})

t.test('a union is explained by the branch that came closest', async (t) => {
  const errors = [
    [{ code: 'invalid_type', path: ['walletId'], message: 'Invalid input: expected string, received undefined', expected: 'string' }, { code: 'invalid_value', path: ['type'], message: 'Invalid input', values: ['wallet'] }],
    [{ code: 'invalid_type', path: ['address'], message: 'Invalid input: expected string, received undefined', expected: 'string' }],
  ]
  t.same(problemsOf('body', issue('invalid_union', '/destination', 'Invalid input', { errors })), [{ field: 'body.destination.address', message: 'address is required' }])
})
