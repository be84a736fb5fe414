import { randomUUID } from 'node:crypto'
import type { Test } from 'tap'
import type { Db } from '../../src/adapters/postgres/database.ts'
import type { RecordedEvent } from '../../src/events/event-store.ts'
import type { AnyEvent } from '../../src/events/fold.ts'
import type { StreamType } from '../../src/events/event.ts'
import { readDocument, type DocumentTable } from '../../src/projections/document.ts'
import { eventsFor, type Projection } from '../../src/subscriptions/projection.ts'
import { testDatabase } from './database.ts'

/**
 * Given/then for projections: events are recorded in memory with increasing positions and
 * per-stream revisions, then handed to the projection's handler in one transaction, as the runner
 * does; the test reads the rows back.
 */
export async function projectionSpec(t: Test) {
  const { db } = await testDatabase(t)
  let position = 0
  let clock = Date.parse('2026-11-26T10:00:00.000Z')
  const revisions = new Map<string, number>()
  const seen = new Set<string>()

  /** Records one event of a stream, a second later than the previous one. */
  function record(stream: string, event: AnyEvent): RecordedEvent {
    const revision = (revisions.get(stream) ?? -1) + 1
    revisions.set(stream, revision)
    seen.add(event.type)
    clock += 1000
    const occurredAt = new Date(clock).toISOString()
    return {
      id: randomUUID(),
      stream,
      revision,
      position: String(++position),
      type: event.type,
      data: event.data,
      metadata: { correlationId: randomUUID(), causationId: randomUUID(), actor: 'test', occurredAt },
      recordedAt: occurredAt,
    }
  }

  async function apply(projection: Projection, events: RecordedEvent[]): Promise<void> {
    await db.transaction().execute((trx) => projection.handle(trx, eventsFor(projection, events)))
  }

  /** Every event type the projection handles was given to it in this test. */
  function coveredAll(t: Test, projection: Projection): void {
    const missing = projection.handles.filter((type) => !seen.has(type))
    t.same(missing, [], `${projection.name}: every handled event type is exercised`)
  }

  return { db: db as Db, record, apply, coveredAll }
}

/**
 * A dead-lettered step marks the resource as needing attention, and a replay or discard clears it:
 * the row shows both, whatever the stream.
 */
export async function attentionCycle(
  t: Test,
  spec: Awaited<ReturnType<typeof projectionSpec>>,
  model: { projection: Projection; table: DocumentTable; type: StreamType<unknown, AnyEvent> },
  id: string,
): Promise<void> {
  const stream = model.type.streamName(id)
  const deadLetterId = randomUUID()
  await spec.apply(model.projection, [spec.record(stream, { type: 'OperationNeedsAttention', data: { attention: 'circle_call_failed', deadLetterId, error: 'HTTP 500' } })])
  t.match((await readDocument(spec.db, model as never, id))?.state, { attention: 'circle_call_failed', deadLetterId }, `${model.projection.name}: attention shows`)
  await spec.apply(model.projection, [spec.record(stream, { type: 'OperationAttentionCleared', data: { deadLetterId, resolution: 'replayed' } })])
  t.equal(((await readDocument(spec.db, model as never, id))?.state as { attention?: string }).attention, undefined, `${model.projection.name}: cleared after the replay`)
}
