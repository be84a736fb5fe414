import type { EventStore } from '../events/event-store.ts'
import { perStore } from '../events/per-store.ts'

/** Streams a command holds for its append; `release` lets the next waiter of each go (once; later calls do nothing). */
export interface HeldStreams {
  readonly streams: ReadonlySet<string>
  release(): void
}

/**
 * One writer per stream within this process. Commands that append to the same stream (transfers
 * from one wallet) queue here, first come first served, instead of deciding at once from the same
 * revision and losing the race at the database: there, the loser's whole append is refused, and it
 * reads, decides and appends again after a backoff. Another process's writes are still caught by
 * the append's expected revisions, as before.
 *
 * A command takes all its streams in one `acquire`, in name order, and takes more only after
 * releasing what it holds, so two commands never wait on each other.
 */
export class StreamLocks {
  /** Per stream, the promise its last holder or waiter resolves on release. */
  readonly #tails = new Map<string, Promise<void>>()

  /** Streams held or waited for (none once every holder has released). */
  get size(): number {
    return this.#tails.size
  }

  async acquire(streams: Iterable<string>): Promise<HeldStreams> {
    const names = [...new Set(streams)].sort()
    const releases: (() => void)[] = []
    for (const name of names) releases.push(await this.#lock(name))
    let released = false
    return {
      streams: new Set(names),
      release: () => {
        if (released) return
        released = true
        for (const release of releases) release()
      },
    }
  }

  #lock(name: string): Promise<() => void> {
    const before = this.#tails.get(name)
    let open!: () => void
    const mine = new Promise<void>((resolve) => (open = resolve))
    this.#tails.set(name, mine)
    const release = () => {
      open()
      if (this.#tails.get(name) === mine) this.#tails.delete(name)
    }
    return before ? before.then(() => release) : Promise.resolve(release)
  }
}

/** One set of locks per store instance, like its cache of folded state. */
export const locksOf: (store: EventStore) => StreamLocks = perStore(() => new StreamLocks())
