import { EventEmitter, once } from 'node:events'
import { setTimeout as sleep } from 'node:timers/promises'

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
    const done = new AbortController()
    const either = AbortSignal.any([signal, done.signal])
    await Promise.race([once(this.emitter, 'ring', { signal: either }).catch(() => undefined), sleep(tickMs, undefined, { signal: either }).catch(() => undefined)])
    done.abort()
  }
}
