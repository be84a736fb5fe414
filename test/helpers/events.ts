import { randomUUID } from 'node:crypto'
import type { EventMetadata, NewEvent } from '../../src/events/event-store.ts'

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
