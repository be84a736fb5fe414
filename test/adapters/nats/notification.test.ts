import { readFileSync } from 'node:fs'
import path from 'node:path'
import t from 'tap'
import { auditHeadSchema, jsonSchemas, notificationSchema, notificationSubject } from '../../../src/adapters/nats/notification.ts'

const docs = path.resolve(import.meta.dirname, '..', '..', '..', 'docs')

t.test('the JSON Schemas committed under docs/ equal the ones generated from the zod schemas (npm run docs:schemas)', async (t) => {
  for (const [file, schema] of Object.entries(jsonSchemas())) {
    const committed: unknown = JSON.parse(readFileSync(path.join(docs, file), 'utf8'))
    t.same(committed, schema, `docs/${file} is current`)
  }
})

t.test('the published schema lists every payload field and requires them all', async (t) => {
  const schema = jsonSchemas()['notification.schema.json'] as { properties: Record<string, unknown>; required: string[] }
  const fields = ['eventId', 'resource', 'id', 'walletId', 'status', 'previousStatus', 'amount', 'currency', 'circleId', 'txHash', 'failure', 'occurredAt', 'position', 'schemaVersion']
  for (const f of fields) t.ok(schema.properties[f], `${f} is described`)
  t.same([...schema.required].sort(), Object.keys(notificationSchema.shape).sort())
})

t.test('amounts are decimal strings, never numbers', async (t) => {
  const base = {
    schemaVersion: 1,
    eventId: '6f1c1f0e-8a4b-4c5d-9e6f-0a1b2c3d4e5f',
    resource: 'mint',
    id: 'm-1',
    walletId: '6f1c1f0e-8a4b-4c5d-9e6f-0a1b2c3d4e5f',
    ownerId: null,
    status: 'completed',
    previousStatus: 'processing',
    currency: 'USD',
    circleId: null,
    txHash: null,
    failure: null,
    occurredAt: '2026-11-26T12:00:00.000Z',
    position: '42',
  }
  t.ok(notificationSchema.safeParse({ ...base, amount: '10.50' }).success)
  t.notOk(notificationSchema.safeParse({ ...base, amount: 10.5 }).success, 'a number is refused')
  t.notOk(notificationSchema.safeParse({ ...base, amount: '1e3' }).success, 'exponent notation is refused')
})

t.test('subjects name resource, status and wallet; a resource without a wallet uses the token none', async (t) => {
  t.equal(notificationSubject('ledger.v1', { resource: 'mint', status: 'completed', walletId: 'w-1' }), 'ledger.v1.mint.completed.w-1')
  t.equal(notificationSubject('ledger.v1', { resource: 'bank_account', status: 'active', walletId: null }), 'ledger.v1.bank_account.active.none')
  t.notOk(auditHeadSchema.safeParse({ schemaVersion: 1, position: '1', hash: 'xyz', at: '2026-11-26T12:00:00.000Z' }).success, 'a head hash is 64 hex digits')
})
