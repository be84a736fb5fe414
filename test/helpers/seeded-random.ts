import t from 'tap'

/**
 * The random numbers of randomized tests, repeatable: each test process draws a seed (or takes
 * `TEST_SEED`) and writes it as a TAP comment at its start (and on stderr if the file fails), so
 * `TEST_SEED=<seed> npx tap <file>` repeats the choices the test draws here. Not covered: ids
 * (randomUUID, which change no decision), timing, the clock, and the simulator's injected faults
 * (its own Math.random). One sequence per process: a subtest run alone draws other numbers.
 */
const seed = process.env.TEST_SEED === undefined ? Math.floor(Math.random() * 2 ** 32) : Number(process.env.TEST_SEED)
if (!Number.isSafeInteger(seed) || seed < 0) throw new Error(`TEST_SEED must be a non-negative integer, not ${process.env.TEST_SEED}`)
t.comment(`random seed ${seed} (TEST_SEED=${seed} repeats this run)`)
// tap's terminal reporter hides comments: a failing file also says its seed on stderr, which it shows.
t.teardown(() => {
  if (!t.passing()) console.error(`random seed ${seed}: TEST_SEED=${seed} repeats this file's random choices`)
})

// mulberry32: a 32-bit state, plenty for choosing test steps.
let state = seed >>> 0
function next(): number {
  state = (state + 0x6d2b79f5) >>> 0
  let z = state
  z = Math.imul(z ^ (z >>> 15), z | 1)
  z ^= z + Math.imul(z ^ (z >>> 7), z | 61)
  return ((z ^ (z >>> 14)) >>> 0) / 2 ** 32
}

/** As node:crypto's randomInt: an integer in [0, max), or in [min, max). */
export function randomInt(min: number, max?: number): number {
  const [low, high] = max === undefined ? [0, min] : [min, max]
  if (!Number.isSafeInteger(low) || !Number.isSafeInteger(high) || high <= low) throw new RangeError(`randomInt(${min}, ${max}): an empty range`)
  return low + Math.floor(next() * (high - low))
}
