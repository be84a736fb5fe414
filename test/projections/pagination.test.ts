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
