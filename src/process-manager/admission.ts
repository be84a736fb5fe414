import { setTimeout as sleep } from 'node:timers/promises'
import type { Db } from '../adapters/postgres/database.ts'
import { raceTimer } from '../timers.ts'
import { countDueTasks } from './tasks.ts'

/** The process manager's queue stayed over its limit for the whole wait: nothing was written, retry later. */
export class BacklogFull extends Error {
  override name = 'BacklogFull'
}

export interface AdmissionOptions {
  db: Db
  /** Most process-manager tasks due and not yet run before new operations wait; 0 admits everything. */
  limit: number
  /** How long a new operation waits for room before it is refused. */
  waitMs: number
  /** How often the queue is counted (one count serves every waiting request). */
  refreshMs?: number
  /** The least time a count may take before admission gives up on it and lets the operation go ahead (1 s). */
  countTimeoutMs?: number
}

/**
 * Admission control for the commands that start Circle work. Left alone, the API accepts operations
 * faster than the process manager can carry them to Circle (an operation costs the process manager
 * several times what its POST costs): the queue grows without end, every open reservation stays in
 * its wallet's state, and everything slows down. Here a new operation waits while the queue of due
 * tasks is at its limit, and is refused (`BacklogFull`, nothing written) if it stays there for the
 * whole wait; so the API answers at the rate the whole service can sustain.
 *
 * The queue is counted at most once per `refreshMs`, shared by all waiting requests; each request
 * admitted in between counts as one more task, so a refresh window admits no more than the room left.
 * The count is the database's, so every API instance sees the same queue (each instance reserves
 * its own admissions between counts). Admission fails open: when the count fails, or does not answer
 * within the wait (and at least a second), the operation goes ahead, and its command meets the
 * database problem itself.
 */
export class Admission {
  private readonly options: Required<AdmissionOptions>
  private due = 0
  private countedAt = -Infinity
  private counting: Promise<void> | undefined

  constructor(options: AdmissionOptions) {
    this.options = { refreshMs: 100, countTimeoutMs: 1000, ...options }
  }

  /** Resolves when the operation may go ahead; throws BacklogFull after `waitMs` without room. */
  async admit(): Promise<void> {
    const { limit, waitMs, refreshMs, countTimeoutMs } = this.options
    if (limit <= 0) return
    const deadline = Date.now() + waitMs
    for (;;) {
      // A count gets the rest of the wait, and at least countTimeoutMs, to answer.
      if (!(await this.countWithin(Math.max(countTimeoutMs, deadline - Date.now()))) || this.due < limit) {
        this.due++
        return
      }
      const left = deadline - Date.now()
      if (left <= 0) throw new BacklogFull(`the process manager has ${this.due} operations waiting (limit ${limit}); retry shortly`)
      await sleep(Math.min(refreshMs, left))
    }
  }

  /**
   * Whether an operation would wait for room now (a fresh count at most every refreshMs). Fails
   * open like admit: a count that fails, or does not answer within countTimeoutMs, says no.
   */
  async saturated(): Promise<boolean> {
    const { limit, countTimeoutMs } = this.options
    if (limit <= 0) return false
    return (await this.countWithin(countTimeoutMs)) && this.due >= limit
  }

  /** Whether `due` is a count made within the last refreshMs, waiting at most `patienceMs` for one; false when the count fails or takes longer. */
  private async countWithin(patienceMs: number): Promise<boolean> {
    // The losing timer is cancelled: a caller that goes ahead leaves nothing pending behind it.
    const giveUp = raceTimer(patienceMs, false)
    const counted = await Promise.race([
      this.count().then(
        () => true,
        () => false,
      ),
      giveUp.promise,
    ])
    giveUp.cancel()
    return counted
  }

  private count(): Promise<void> {
    if (Date.now() - this.countedAt < this.options.refreshMs) return Promise.resolve()
    this.counting ??= countDueTasks(this.options.db)
      .then((due) => {
        this.due = due
        this.countedAt = Date.now()
      })
      .finally(() => (this.counting = undefined))
    return this.counting
  }
}
