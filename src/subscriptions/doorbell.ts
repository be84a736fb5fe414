import { EventEmitter } from 'node:events'
import type { Logger } from 'pino'
import { raceTimer } from '../timers.ts'

/**
 * Wakes a worker loop that claims rows from a table (process-manager tasks, webhook inbox) when
 * new work is announced, instead of at its next tick. A ring that comes while the worker is busy
 * claiming is remembered, so it claims again at once rather than sleeping a tick on a claim that
 * ran before the new rows were committed.
 */
export class Doorbell {
  private readonly emitter = new EventEmitter()
  private rung = false

  constructor() {
    this.emitter.setMaxListeners(0)
  }

  ring(): void {
    this.rung = true
    this.emitter.emit('ring')
  }

  /** Call as a claim begins: rings before this point are answered by that claim. */
  answer(): void {
    this.rung = false
  }

  /** Until a ring (or one since the last `answer`), `tickMs` passes, or `signal` aborts. */
  async wait(signal: AbortSignal, tickMs: number): Promise<void> {
    if (this.rung || signal.aborted) return
    const tick = raceTimer(tickMs, undefined, signal)
    let rang = () => {}
    const ring = new Promise<void>((resolve) => {
      rang = resolve
      this.emitter.once('ring', rang)
    })
    await Promise.race([ring, tick.promise])
    tick.cancel()
    this.emitter.off('ring', rang)
  }
}

export interface ClaimedWork<T> {
  /** Most items running at once. */
  concurrency: number
  /** Longest idle wait between claims without a ring (ms). */
  tickMs: number
  /** Claims up to `limit` due items (rows locked or leased to this worker). */
  claim: (limit: number) => Promise<T[]>
  /** Runs one claimed item; it settles the item itself. */
  run: (item: T) => Promise<void>
  onClaimError: (err: unknown) => void
  /** Runs before each claim (the process manager's periodic look at the webhook inbox). */
  beforeClaim?: () => Promise<void>
}

/**
 * The claim loop of a worker woken by `doorbell`: keeps up to `concurrency` claimed items running
 * until `signal` aborts, then waits for those in flight. Each claim answers the doorbell as it
 * begins, a finished item rings it (a slot is free), and a claim that found nothing waits for a
 * ring or the tick.
 */
export async function workClaimed<T>(doorbell: Doorbell, signal: AbortSignal, work: ClaimedWork<T>): Promise<void> {
  const inFlight = new Set<Promise<void>>()
  while (!signal.aborted) {
    await work.beforeClaim?.()
    let items: T[] = []
    doorbell.answer()
    if (inFlight.size < work.concurrency) {
      try {
        items = await work.claim(work.concurrency - inFlight.size)
      } catch (err) {
        work.onClaimError(err)
      }
    }
    for (const item of items) {
      const running: Promise<void> = work.run(item).finally(() => {
        inFlight.delete(running)
        doorbell.ring()
      })
      inFlight.add(running)
    }
    if (items.length === 0) await doorbell.wait(signal, work.tickMs)
  }
  await Promise.allSettled([...inFlight])
}

/**
 * Keeps a running item's claim from expiring, however long its work takes (Circle degraded, several
 * calls in a step): `renew` runs every third of `claimSeconds` until the returned function is called.
 * A claim found lost (`renew` answered false) is not renewed again; the item's settle, fenced by its
 * claim token, then writes nothing. `log` names the item in the log lines.
 */
export function holdClaim(renew: () => Promise<boolean>, claimSeconds: number, logger: Logger, log: Record<string, unknown>): () => void {
  let stopped = false
  const stop = () => {
    stopped = true
    clearInterval(timer)
  }
  const timer = setInterval(() => {
    renew().then(
      (held) => {
        if (held || stopped) return
        stop()
        logger.warn(log, 'a running item lost its claim; its outcome will not be recorded')
      },
      (err: unknown) => stopped || logger.warn({ ...log, err }, 'could not renew a claim; trying again'),
    )
  }, (claimSeconds * 1000) / 3)
  timer.unref()
  return stop
}
