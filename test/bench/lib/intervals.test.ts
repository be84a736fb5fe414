import t from 'tap'
import { coveredSeconds } from '../../../bench/lib/intervals.ts'

t.test('coveredSeconds counts the part of a window the spans cover, overlaps once', async (t) => {
  t.equal(coveredSeconds(10, 20, []), 0, 'no spans')
  t.equal(coveredSeconds(10, 20, [{ start: 0, end: 5 }, { start: 25, end: 30 }]), 0, 'spans outside the window')
  t.equal(coveredSeconds(10, 20, [{ start: 5, end: 12 }]), 2, 'a span ending in the window')
  t.equal(coveredSeconds(10, 20, [{ start: 18, end: 40 }]), 2, 'a span starting in the window')
  t.equal(coveredSeconds(10, 20, [{ start: 0, end: 40 }]), 10, 'a span over the whole window')
  t.equal(coveredSeconds(10, 20, [{ start: 11, end: 13 }, { start: 15, end: 16 }]), 3, 'two apart')
  t.equal(coveredSeconds(10, 20, [{ start: 12, end: 16 }, { start: 11, end: 14 }, { start: 15, end: 17 }]), 6, 'overlapping spans count once, in any order')
  t.equal(coveredSeconds(10, 20, [{ start: 12, end: 14 }, { start: 12.5, end: 13 }]), 2, 'a span inside another')
})
