import { randomUUID } from 'node:crypto'
import type { EventMetadata, EventStore, NewEvent, ReadStreamOptions } from '../../src/events/event-store.ts'

export const testMetadata = (overrides: Partial<EventMetadata> = {}): EventMetadata => ({
  correlationId: randomUUID(),
  causationId: randomUUID(),
  actor: 'test',
  occurredAt: '2026-11-26T00:00:00.000Z',
  ...overrides,
})

export const newEvent = (type = 'Tested', data: NewEvent['data'] = {}, metadata = testMetadata()): NewEvent => ({
  id: randomUUID(),
  type,
  data,
  metadata,
})

export const newEvents = (n: number, type = 'Tested'): NewEvent[] => Array.from({ length: n }, (_, i) => newEvent(type, { i }))

/** The store, with every readStream counted: where it started and how many events it returned. */
export function countingReads<S extends EventStore>(inner: S) {
  const reads: { from: number | undefined; got: number }[] = []
  const store = Object.assign(Object.create(inner) as S, {
    readStream: async (stream: string, options?: ReadStreamOptions) => {
      const events = await inner.readStream(stream, options)
      reads.push({ from: options?.fromRevision, got: events.length })
      return events
    },
  })
  return { store, reads }
}
