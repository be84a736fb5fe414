import type { Test } from 'tap'
import { DomainError, type DomainErrorCode } from '../../src/commands/errors.ts'
import type { Event, StreamType } from '../../src/events/event.ts'
import type { JsonObject } from '../../src/events/event-store.ts'

/** Given: the state a stream folds to from past events. */
export function given<S, E extends Event<string, JsonObject>>(type: StreamType<S, E>, events: E[]): S {
  return events.reduce((s, e) => type.evolve(s, e), type.initialState)
}

/** Then: the decision throws a DomainError with this code. */
export function thenRejects(t: Test, when: () => unknown, code: DomainErrorCode, message?: string): void {
  try {
    when()
    t.fail(message ?? `expected ${code}, but the command was accepted`)
  } catch (err) {
    t.ok(err instanceof DomainError, `${message ?? code}: a DomainError`)
    t.equal((err as DomainError).code, code, message ?? `rejected with ${code}`)
  }
}
