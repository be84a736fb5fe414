import t from 'tap'
import { MemoryEventStore } from '../../src/adapters/event-store/memory.ts'
import { perStore } from '../../src/events/per-store.ts'

t.test('one value per store, made on the first ask', async (t) => {
  let made = 0
  const valueOf = perStore(() => ({ n: ++made }))
  const a = new MemoryEventStore()
  const b = new MemoryEventStore()
  t.equal(made, 0, 'nothing made before it is asked for')
  t.equal(valueOf(a), valueOf(a), 'the same value for the same store')
  t.not(valueOf(a), valueOf(b), 'another store has its own')
  t.equal(made, 2, 'made once per store')
})
