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

t.test('a wait leaves nothing behind however it ends: no ring listener, no abort listener', async (t) => {
  const bell = new Doorbell()
  const stop = new AbortController()
  const listeners = () => ({ ring: bell['emitter'].listenerCount('ring'), abort: abortListeners(stop.signal) })
  const probe = () => undefined
  stop.signal.addEventListener('abort', probe)
  t.same(listeners(), { ring: 0, abort: 1 }, 'the count sees a listener')
  stop.signal.removeEventListener('abort', probe)
  bell.answer()
  await bell.wait(stop.signal, 5)
  t.same(listeners(), { ring: 0, abort: 0 }, 'after the tick')
  setTimeout(() => bell.ring(), 5)
  await bell.wait(stop.signal, 60_000)
  t.same(listeners(), { ring: 0, abort: 0 }, 'after a ring')
  bell.answer()
  setTimeout(() => stop.abort(), 5)
  await bell.wait(stop.signal, 60_000)
  t.same(listeners(), { ring: 0, abort: 0 }, 'after the abort')
})

/** Listeners on an AbortSignal, counted through Node's EventTarget internals (kEvents). */
function abortListeners(signal: AbortSignal): number {
  const events = Object.getOwnPropertySymbols(signal).find((s) => s.description === 'kEvents')
  const map = events && (signal as unknown as Record<symbol, Map<string, { size: number }>>)[events]
  if (!map) throw new Error('this Node keeps no kEvents on an AbortSignal')
  return map.get('abort')?.size ?? 0
}
