import t from 'tap'
import { MemoryEventStore } from '../../src/adapters/event-store/memory.ts'
import { locksOf, StreamLocks } from '../../src/commands/stream-locks.ts'

/** Resolves after the microtasks and timers queued so far have run. */
const settle = () => new Promise((resolve) => setImmediate(resolve))

t.test('holders of a stream go one after another, in the order they asked', async (t) => {
  const locks = new StreamLocks()
  const order: string[] = []
  const first = await locks.acquire(['wallet-a'])
  const waiting = ['second', 'third'].map((name) =>
    locks.acquire(['wallet-a']).then((held) => {
      order.push(name)
      return held
    }),
  )
  await settle()
  t.same(order, [], 'nobody gets the stream while it is held')
  first.release()
  const second = await waiting[0]!
  await settle()
  t.same(order, ['second'], 'the next in line, and only it')
  second.release()
  ;(await waiting[1]!).release()
  t.same(order, ['second', 'third'])
  t.equal(locks.size, 0, 'nothing left behind once the last holder releases')
})

t.test('other streams are not held up', async (t) => {
  const locks = new StreamLocks()
  const a = await locks.acquire(['wallet-a'])
  const b = await locks.acquire(['wallet-b', 'transfer-c'])
  t.same([...b.streams], ['transfer-c', 'wallet-b'], 'held in name order')
  a.release()
  b.release()
  t.equal(locks.size, 0)
})

t.test('two holders asking for the same streams in opposite orders never wait on each other', async (t) => {
  const locks = new StreamLocks()
  let done = 0
  const run = async (streams: string[]) => {
    for (let i = 0; i < 50; i++) {
      const held = await locks.acquire(streams)
      await settle()
      held.release()
    }
    done++
  }
  await Promise.all([run(['wallet-a', 'wallet-b']), run(['wallet-b', 'wallet-a']), run(['wallet-b', 'wallet-a', 'wallet-a'])])
  t.equal(done, 3, 'all finished')
  t.equal(locks.size, 0)
})

t.test('a release counts once: a second call does not let a third holder in early', async (t) => {
  const locks = new StreamLocks()
  const first = await locks.acquire(['s'])
  let secondIn = false
  let thirdIn = false
  const second = locks.acquire(['s']).then((held) => ((secondIn = true), held))
  const third = locks.acquire(['s']).then((held) => ((thirdIn = true), held))
  first.release()
  first.release()
  await settle()
  t.ok(secondIn, 'the second holds it')
  t.notOk(thirdIn, 'the third still waits')
  ;(await second).release()
  ;(await third).release()
  t.equal(locks.size, 0)
})

t.test('one set of locks per store', async (t) => {
  const store = new MemoryEventStore()
  t.equal(locksOf(store), locksOf(store))
  t.not(locksOf(store), locksOf(new MemoryEventStore()))
})
