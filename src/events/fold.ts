import { setImmediate as yieldToLoop } from 'node:timers/promises'
import type { EventStore, JsonObject, Position, RecordedEvent } from './event-store.ts'
import type { Event, StreamType } from './event.ts'
import { setRecent } from '../recent.ts'
import { perStore } from './per-store.ts'

export type AnyEvent = Event<string, JsonObject>

/**
 * Folds events of one stream (recorded, or as decided) into its state, starting from `from` (default:
 * the initial state).
 */
export const foldEvents = <S, E extends AnyEvent>(type: StreamType<S, E>, events: readonly AnyEvent[], from: S = type.initialState): S =>
  events.reduce((s, e) => type.evolve(s, e as E), from)

export interface Folded<S> {
  state: S
  /** Revision of the last event folded; -1 when the stream has no events. */
  revision: number
}

/** Events read and folded per round trip; each page yields to the event loop before the next. */
const PAGE = 1000

/**
 * Streams a cache of folded state keeps (this one, and the notifier's): hot streams (wallets) stay;
 * a short operation stream pushed out costs one read to fold again. At 10,000 the soak's RSS grew
 * for nine minutes (+18%) only because the two caches were filling.
 */
export const STATE_CACHE_ENTRIES = 2_000

/** A stream's state folded elsewhere by the same `evolve` (a read model's row, say), up to its last event's revision and position. */
export interface Snapshot<S> extends Folded<S> {
  position: Position
}

/**
 * A stream's snapshot, or undefined when there is none to trust. A cache may start from it instead of
 * the stream's first event: the events after its revision are read from the store as always.
 */
export type SnapshotSource = (type: StreamType<unknown, AnyEvent>, id: string) => Promise<Snapshot<unknown> | undefined>

/** How the loads that asked for a snapshot went (see `AggregateCache.snapshotLoads`). */
export interface SnapshotLoads {
  used: number
  unusable: number
  failed: number
}

/**
 * Folded state per stream, bounded (least recently used out), topped up with only the events after
 * the cached revision. States are immutable (`evolve` returns new objects), so a cached entry is
 * shared safely. A stale entry (another process appended) costs one short read; the append's
 * expected revision still guards every decision made from it.
 *
 * With a snapshot source, a stream whose first read comes back full (a page or more to fold: a long
 * wallet after a restart) asks it once, and skips to the snapshot's revision when that is further
 * on: the first command on a 50,000-event wallet then reads two pages, not fifty. A stream shorter
 * than a page never asks.
 */
export class AggregateCache {
  private readonly entries = new Map<string, Folded<unknown>>()
  readonly maxEntries: number
  snapshots: SnapshotSource | undefined
  /**
   * Loads that asked for a snapshot, since start: started from it (`used`), folded from the first
   * event because it was missing, behind the page or not this stream's (`unusable`), or because the
   * source failed (`failed`). Many of the last two mean slow first commands on long streams.
   */
  readonly snapshotLoads: SnapshotLoads = { used: 0, unusable: 0, failed: 0 }

  constructor(maxEntries = STATE_CACHE_ENTRIES) {
    this.maxEntries = maxEntries
  }

  get size(): number {
    return this.entries.size
  }

  async load<S>(store: EventStore, type: StreamType<S, AnyEvent>, id: string): Promise<Folded<S>> {
    const [folded] = await this.loadMany(store, [{ type, id }])
    return folded as Folded<S>
  }

  /**
   * Several streams topped up at once: with a store that reads several streams in one round trip
   * (a command's streams, say), one statement for all of them; a stream with more than a page of
   * new events goes on alone, page by page.
   */
  async loadMany(store: EventStore, refs: readonly { type: StreamType<unknown, AnyEvent>; id: string }[]): Promise<Folded<unknown>[]> {
    const streams = refs.map((r) => r.type.streamName(r.id))
    const folded = refs.map((r, i): Folded<unknown> => this.entries.get(streams[i]!) ?? { state: r.type.initialState, revision: -1 })
    // The same stream twice is read once.
    const firstOf = streams.map((s) => streams.indexOf(s))
    const unique = firstOf.flatMap((first, i) => (first === i ? [i] : []))
    // One stream alone takes the plain read: it costs less to plan and run than the statement for several.
    const pages = store.readStreams && unique.length > 1
      ? await store.readStreams(unique.map((i) => ({ stream: streams[i]!, fromRevision: folded[i]!.revision + 1 })), PAGE)
      : await Promise.all(unique.map((i) => store.readStream(streams[i]!, { fromRevision: folded[i]!.revision + 1, maxCount: PAGE })))
    await Promise.all(
      unique.map(async (i, u) => {
        const type = refs[i]!.type
        let events = pages[u]!
        let asked = false
        for (;;) {
          const last = events.at(-1)
          if (last !== undefined && events.length === PAGE && !asked && this.snapshots) {
            asked = true
            const found = await this.fromSnapshot(store, type, refs[i]!.id, streams[i]!, last.revision)
            if (found !== undefined) {
              ;({ folded: folded[i], events } = found)
              continue
            }
          }
          if (last !== undefined) folded[i] = { state: foldEvents(type, events, folded[i]!.state), revision: last.revision }
          if (events.length < PAGE) break
          await yieldToLoop()
          events = await store.readStream(streams[i]!, { fromRevision: folded[i]!.revision + 1, maxCount: PAGE })
        }
        this.remember(streams[i]!, folded[i]!)
      }),
    )
    return firstOf.map((first) => folded[first]!)
  }

  /**
   * The stream's snapshot, if it is at or past `revision` and is this stream's: the store holds an
   * event at its revision and position (a row restored from another database, or left by a stream
   * that was since removed, is not). With it, the page of events after it. Otherwise undefined, and
   * the stream is folded as if there were no source: a snapshot that cannot be read or trusted makes
   * a load slower, never wrong.
   */
  private async fromSnapshot(
    store: EventStore,
    type: StreamType<unknown, AnyEvent>,
    id: string,
    stream: string,
    revision: number,
  ): Promise<{ folded: Folded<unknown>; events: RecordedEvent[] } | undefined> {
    let snapshot: Snapshot<unknown> | undefined
    try {
      snapshot = await this.snapshots!(type, id)
    } catch {
      this.snapshotLoads.failed++
      return undefined
    }
    if (snapshot !== undefined && snapshot.revision >= revision) {
      const [at, ...after] = await store.readStream(stream, { fromRevision: snapshot.revision, maxCount: PAGE + 1 })
      if (at !== undefined && at.revision === snapshot.revision && at.position === snapshot.position) {
        this.snapshotLoads.used++
        return { folded: { state: snapshot.state, revision: snapshot.revision }, events: after }
      }
    }
    this.snapshotLoads.unusable++
    return undefined
  }

  /** The state held for a stream, as last folded (it may be behind the store); undefined when it is not held. Reads nothing. */
  peek(stream: string): unknown {
    return this.entries.get(stream)?.state
  }

  /** The revision held for a stream; undefined when it is not held (never loaded, or pushed out). */
  revisionOf(stream: string): number | undefined {
    return this.entries.get(stream)?.revision
  }

  /** After a successful append: the state the appender computed, so the next load reads nothing. */
  remember(stream: string, folded: Folded<unknown>): void {
    if (folded.revision < 0) return
    const current = this.entries.get(stream)
    if (current && current.revision > folded.revision) return
    setRecent(this.entries, stream, folded, this.maxEntries)
  }

  clear(): void {
    this.entries.clear()
  }
}

/** One cache per store instance: every reader of a store shares what it folded. */
export const cacheOf: (store: EventStore) => AggregateCache = perStore(() => new AggregateCache())

/** Reads (only what is new) and folds one stream; revision -1 when it has no events. */
export function fold<S>(store: EventStore, type: StreamType<S, AnyEvent>, id: string): Promise<Folded<S>> {
  return cacheOf(store).load(store, type, id)
}
