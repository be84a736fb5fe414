import t from 'tap'
import { clampLimit, decodeCursor, encodeCursor, InvalidCursor } from '../../src/projections/pagination.ts'

t.test('limits default to 50 and are capped at 200', async (t) => {
  t.equal(clampLimit(undefined), 50)
  t.equal(clampLimit(1), 1)
  t.equal(clampLimit(500), 200)
})

t.test('a cursor round-trips; anything else is refused as InvalidCursor', async (t) => {
  const c = { createdAt: '2026-11-26T10:00:00.000Z', id: 'abc' }
  t.same(decodeCursor(encodeCursor(c)), c)
  for (const bad of ['x', Buffer.from('[1,2]').toString('base64url'), Buffer.from('["not a date","a"]').toString('base64url')]) {
    t.throws(() => decodeCursor(bad), InvalidCursor, bad)
  }
})

t.test('a forged cursor that decodes is refused too: a date not written by the service, or a non-uuid id where ids are uuids', async (t) => {
  const forge = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url')
  const uuid = '6f1b7a4e-0000-4000-8000-000000000001'
  // Date.parse takes all of these; PostgreSQL's timestamptz cast does not take the first two.
  for (const date of ['1', 'Nov 26 2026', '2026-11-26', '2026-11-26T10:00:00Z', '2026-02-30T00:00:00.000Z', '0000-01-01T00:00:00.000Z']) {
    t.throws(() => decodeCursor(forge([date, uuid])), InvalidCursor, date)
  }
  t.throws(() => decodeCursor(forge(['2026-11-26T10:00:00.000Z', 'x']), 'uuid'), InvalidCursor, 'not a uuid')
  t.same(decodeCursor(forge(['2026-11-26T10:00:00.000Z', 'x'])), { createdAt: '2026-11-26T10:00:00.000Z', id: 'x' }, 'any storable id on a text table')
  t.throws(() => decodeCursor(forge(['2026-11-26T10:00:00.000Z', 'a\u0000b'])), InvalidCursor, 'a NUL in an id')
  t.same(decodeCursor(forge(['2026-11-26T10:00:00.000Z', uuid]), 'uuid'), { createdAt: '2026-11-26T10:00:00.000Z', id: uuid })
})
