/** A span of time in seconds from the same origin; `end` ≥ `start`. */
export interface Span {
  start: number
  end: number
}

/** Seconds of [from, to] covered by the spans (spans that overlap each other count once). */
export function coveredSeconds(from: number, to: number, spans: readonly Span[]): number {
  const clipped = spans
    .map((s) => ({ start: Math.max(from, s.start), end: Math.min(to, s.end) }))
    .filter((s) => s.end > s.start)
    .sort((a, b) => a.start - b.start)
  let covered = 0
  let reached = from
  for (const s of clipped) {
    if (s.end <= reached) continue
    covered += s.end - Math.max(s.start, reached)
    reached = s.end
  }
  return covered
}
