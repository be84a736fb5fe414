import t from 'tap'
import { TokenBucket } from '../../../src/adapters/circle/rate-limiter.ts'

t.test('a rate below one a second still grants calls: the first at once, the next after 1/rate seconds', async (t) => {
  const bucket = new TokenBucket(0.5)
  const started = performance.now()
  // A bucket capped below one token never grants anything: these races would end on the timer.
  const first = await Promise.race([bucket.take().then(() => 'granted'), new Promise((resolve) => setTimeout(() => resolve('never'), 5000))])
  t.equal(first, 'granted')
  t.ok(performance.now() - started < 500, 'the first token is there at once')
  const second = bucket.take().then(() => performance.now() - started)
  const waited = await Promise.race([second, new Promise<number>((resolve) => setTimeout(() => resolve(-1), 10_000))])
  t.ok(waited >= 1500, `the second waits for its token (${Math.round(waited)} ms)`)
})

t.test('tokens go out in arrival order, up to the burst at once', async (t) => {
  const bucket = new TokenBucket(1000, 3)
  const order: number[] = []
  await Promise.all([0, 1, 2, 3, 4].map((i) => bucket.take().then(() => order.push(i))))
  t.same(order, [0, 1, 2, 3, 4])
})
