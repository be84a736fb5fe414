import cliProgress from 'cli-progress'

export interface Progress {
  /** `done` of `total` units; `total` undefined when the store cannot count (no ETA then). */
  update(done: number, total: number | undefined, extra?: Record<string, string | number>): void
  stop(): void
}

/**
 * A progress bar on stderr (stdout stays clean for `--json` and NDJSON): units a second (events by
 * default) and ETA. Without a terminal it prints a line every two seconds instead of redrawing.
 */
export function progressBar(label: string, stream: NodeJS.WritableStream = process.stderr, unit = 'events'): Progress {
  const started = Date.now()
  const bar = new cliProgress.SingleBar(
    {
      stream: stream as NodeJS.WriteStream,
      format: `${label} [{bar}] {percentage}% | {value}/{total} ${unit} | {rate} ${unit}/s | ETA {eta_formatted}`,
      noTTYOutput: true,
      notTTYSchedule: 2000,
      etaBuffer: 50,
      hideCursor: true,
    },
    cliProgress.Presets.shades_classic,
  )
  let begun = false
  return {
    update(done, total, extra = {}) {
      const seconds = Math.max((Date.now() - started) / 1000, 0.001)
      const payload = { rate: Math.round(done / seconds), ...extra }
      if (!begun) {
        bar.start(Math.max(total ?? done, 1), 0, payload)
        begun = true
      }
      if (total !== undefined) bar.setTotal(Math.max(total, 1))
      bar.update(done, payload)
    },
    stop() {
      if (begun) bar.stop()
    },
  }
}
