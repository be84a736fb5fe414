import type { EventStore } from './event-store.ts'

/**
 * A value kept per event store instance (its cache of folded state, its stream locks): made on the
 * first ask, shared by everything in the process that uses that store, and collected with the store.
 */
export function perStore<T>(make: () => T): (store: EventStore) => T {
  const values = new WeakMap<EventStore, T>()
  return (store) => {
    let value = values.get(store)
    if (value === undefined) {
      value = make()
      values.set(store, value)
    }
    return value
  }
}
