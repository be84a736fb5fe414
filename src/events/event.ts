import type { JsonObject } from './event-store.ts'

/** A domain event as decided: `type` equals the type name; `data` is plain JSON. */
export type Event<Type extends string, Data extends JsonObject> = { type: Type; data: Data }

/** Why an operation failed: Circle's code or ours, and a human message. */
export type Failure = { code: string; message: string }

/** Every operation moves pending -> processing -> completed | failed; the last two are terminal. */
export type OperationStatus = 'pending' | 'processing' | 'completed' | 'failed'

/** Every key of any member of a union. */
type KeysOf<U> = U extends unknown ? keyof U : never

/**
 * A state union keyed by `status` whose members name the fields only other members have as absent
 * (`?: never`): the union still reads every field (possibly undefined), and a check of `status`
 * narrows to the fields that exist in that status.
 */
export type StatusUnion<U, All = U> = U extends unknown ? U & { [K in Exclude<KeysOf<All>, keyof U>]?: never } : never

/** The stream has events: its state carries what every requested resource carries. */
export const exists = <S extends { status: string }>(state: S): state is Exclude<S, { status: 'none' }> => state.status !== 'none'

export const isTerminal = (status: OperationStatus | 'none'): boolean => status === 'completed' || status === 'failed'

/** A stream type: how its name is built and how its events fold into state. */
export interface StreamType<State, E extends Event<string, JsonObject>> {
  category: string
  streamName(id: string): string
  initialState: State
  evolve(state: State, event: E): State
}
