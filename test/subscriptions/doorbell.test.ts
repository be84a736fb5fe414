import t from 'tap'
import { Doorbell } from '../../src/subscriptions/doorbell.ts'

const timed = async (wait: Promise<void>) => {
  const began = performance.now()
  await wait
  return performance.now() - began
}

t.test('a ring during a claim (after answer) makes the next wait return at once', async (t) => {
  const bell = new Doorbell()
  bell.answer()
  bell.ring()
  t.ok((await timed(bell.wait(new AbortController().signal, 60_000))) < 1000, 'did not sleep the tick')
})

t.test('a ring before the claim began is answered by that claim: the wait sleeps until the next ring', async (t) => {
  const bell = new Doorbell()
  bell.ring()
  bell.answer()
  setTimeout(() => bell.ring(), 200)
  const waited = await timed(bell.wait(new AbortController().signal, 60_000))
  t.ok(waited >= 150 && waited < 5000, `woke by the later ring (${waited.toFixed(0)} ms)`)
})

t.test('with no ring the wait ends at the tick, or when its signal aborts', async (t) => {
  const bell = new Doorbell()
  bell.answer()
  t.ok((await timed(bell.wait(new AbortController().signal, 50))) >= 40, 'the tick')
  const stop = new AbortController()
  setTimeout(() => stop.abort(), 50)
  t.ok((await timed(bell.wait(stop.signal, 60_000))) < 5000, 'the abort')
})
