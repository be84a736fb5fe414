import type { Test } from 'tap'
import { DomainError, type DomainErrorCode } from '../../src/commands/errors.ts'
import { decideSteps, type Decider, type Decision, type StreamEvents } from '../../src/commands/handler.ts'
import type { Event, StreamType } from '../../src/events/event.ts'
import { foldEvents } from '../../src/events/fold.ts'
import type { JsonObject } from '../../src/events/event-store.ts'

/** The state a stream folds to from its events: the fold production applies to a stream read from the store. */
export const stateOf = <S, E extends Event<string, JsonObject>>(type: StreamType<S, E>, events: E[]): S => foldEvents(type, events)

/** Past events per stream key of the decider. */
export type Given<E> = { [K in keyof E]?: E[K][] }

/** The decision with empty stream keys left out: what would be appended, per key. */
const appended = <E>(decision: Decision<E>): Decision<E> =>
  Object.fromEntries(Object.entries(decision).filter(([, events]) => Array.isArray(events) && events.length > 0)) as Decision<E>

/**
 * A decider specification: given past events per stream key, when a command, then the events it
 * appends per stream key, or its refusal. It runs the path execute() runs (decideSteps: the decider's
 * streams, then its related streams, each folded from its stream type's initial state with `evolve`,
 * then decide; without a cache, so related streams are never guessed), with the given events in
 * place of the event store. A key the decider reads but that
 * is not given is an empty stream; giving a key the decider does not read fails the test.
 *
 *   spec(t, requestTransfer).given({ source: funded }).when(command).then({ transfer: [...], source: [...] })
 */
export function spec<C, S, E extends StreamEvents<S>>(t: Test, decider: Decider<C, S, E>) {
  const run = (given: Given<E>, command: C): Decision<E> => {
    const steps = decideSteps(decider, command)
    const read = new Set<string>()
    let step = steps.next({})
    while (!step.done) {
      const state: Record<string, unknown> = {}
      for (const [key, ref] of Object.entries(step.value)) {
        if (!ref) continue
        read.add(key)
        const events = (given as Record<string, Event<string, JsonObject>[] | undefined>)[key] ?? []
        state[key] = stateOf(ref.type, events)
      }
      step = steps.next(state)
    }
    const unread = Object.keys(given).filter((key) => !read.has(key))
    if (unread.length > 0) throw new Error(`given events for stream key(s) ${unread.join(', ')} that the decider does not read for this command`)
    return step.value.decision
  }

  const scenario = (given: Given<E>) => ({
    when: (command: C) => ({
      /** Then: exactly these events per stream key (type and data); a key not listed appends nothing. */
      then(expected: Decision<E>, message = 'appends exactly these events per stream'): Decision<E> {
        const decision = appended(run(given, command))
        t.same(decision, appended(expected), message)
        return decision
      },
      /** Then: the command is accepted and appends nothing (a repeat, or already so). */
      thenNothing(message = 'appends nothing'): void {
        t.same(appended(run(given, command)), {}, message)
      },
      /** Then: the command is refused with a DomainError of this code, appending nothing. */
      thenRejects(code: DomainErrorCode, message?: string): void {
        try {
          run(given, command)
          t.fail(message ?? `expected ${code}, but the command was accepted`)
        } catch (err) {
          t.ok(err instanceof DomainError, `${message ?? code}: a DomainError`)
          t.equal((err as DomainError).code, code, message ?? `rejected with ${code}`)
        }
      },
      /** The events the command appends per stream key, for a scenario that goes on from them. */
      decision: (): Decision<E> => appended(run(given, command)),
    }),
  })

  return {
    given: (events: Given<E>) => scenario(events),
    when: (command: C) => scenario({}).when(command),
  }
}
