import type pg from 'pg'
import type { Config } from '../../config.ts'
import type { EventStore } from '../../events/event-store.ts'
import { KurrentDbEventStore } from './kurrentdb.ts'
import { PostgresEventStore, type PostgresEventStoreOptions } from './postgres.ts'

export function createEventStore(config: Config, pool: pg.Pool, options: PostgresEventStoreOptions = {}): EventStore {
  if (config.EVENT_STORE === 'kurrentdb') {
    // The configuration check requires it with EVENT_STORE=kurrentdb.
    if (config.KURRENTDB_CONNECTION_STRING === undefined) throw new Error('EVENT_STORE=kurrentdb needs KURRENTDB_CONNECTION_STRING')
    return new KurrentDbEventStore(config.KURRENTDB_CONNECTION_STRING)
  }
  return new PostgresEventStore(pool, options)
}
