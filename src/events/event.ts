import type { JsonObject } from './event-store.ts'

/** A domain event as decided: `type` equals the type name; `data` is plain JSON. */
export type Event<Type extends string, Data extends JsonObject> = { type: Type; data: Data }

/** Why an operation failed: Circle's code or ours, and a human message. */
export type Failure = { code: string; message: string }

/** Every operation moves pending -> processing -> completed | failed; the last two are terminal. */
export type OperationStatus = 'pending' | 'processing' | 'completed' | 'failed'

export const isTerminal = (status: OperationStatus | 'none'): boolean => status === 'completed' || status === 'failed'

/** A stream type: how its name is built and how its events fold into state. */
export interface StreamType<State, E extends Event<string, JsonObject>> {
  category: string
  streamName(id: string): string
  initialState: State
  evolve(state: State, event: E): State
}
