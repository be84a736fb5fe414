import t from 'tap'
import { raceTimer } from '../src/timers.ts'

const settledWithin = <T>(p: Promise<T>, ms: number) =>
  Promise.race([p.then((value) => ({ value })), new Promise<'pending'>((resolve) => setTimeout(() => resolve('pending'), ms))])

t.test('raceTimer settles with its value when the time is up', async (t) => {
  const began = performance.now()
  t.equal(await raceTimer(40, 'idle').promise, 'idle')
  t.ok(performance.now() - began >= 35, 'not before its time')
})

t.test('raceTimer settles with the abort value as soon as its signal aborts, or at once when it already has', async (t) => {
  const stop = new AbortController()
  const timer = raceTimer(60_000, 'idle', stop.signal, 'aborted')
  setTimeout(() => stop.abort(), 20)
  t.same(await settledWithin(timer.promise, 5000), { value: 'aborted' })
  t.same(await settledWithin(raceTimer(60_000, 'idle', stop.signal, 'aborted').promise, 1000), { value: 'aborted' }, 'an aborted signal')
})

t.test('a cancelled raceTimer never settles, keeps no timer and stops listening to its signal', async (t) => {
  const stop = new AbortController()
  const timer = raceTimer(20, 'idle', stop.signal, 'aborted')
  timer.cancel()
  stop.abort()
  t.equal(await settledWithin(timer.promise, 200), 'pending', 'neither the timer nor the abort settled it')
  // A cancelled timer no longer holds the process open: a child that only starts and cancels one exits at once.
  const { execFileSync } = await import('node:child_process')
  const began = performance.now()
  execFileSync(process.execPath, ['--input-type=module', '-e', `import { raceTimer } from ${JSON.stringify(new URL('../src/timers.ts', import.meta.url).href)}; raceTimer(60000, 1).cancel()`])
  t.ok(performance.now() - began < 30_000, 'the child exited without waiting for the timer')
})
