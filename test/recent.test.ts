import t from 'tap'
import { setRecent } from '../src/recent.ts'

t.test('setRecent keeps at most maxEntries, letting the least recently set go first', async (t) => {
  const map = new Map<string, number>()
  setRecent(map, 'a', 1, 2)
  setRecent(map, 'b', 2, 2)
  setRecent(map, 'a', 3, 2) // a is now the most recent
  setRecent(map, 'c', 4, 2)
  t.same([...map], [['a', 3], ['c', 4]])
})
