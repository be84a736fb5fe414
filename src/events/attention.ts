import type { Event } from './event.ts'

/**
 * An operation whose process-manager task kept failing and became a dead letter: it is not terminal,
 * nothing retries it any more, and a person must look. `attention` names what is stuck
 * (e.g. `compensation_failed`); cleared when an admin replays or discards the dead letter.
 */
export type OperationNeedsAttention = Event<'OperationNeedsAttention', { attention: string; deadLetterId: string; error: string }>
export type OperationAttentionCleared = Event<
  'OperationAttentionCleared',
  { deadLetterId: string; resolution: 'replayed' | 'discarded'; reason?: string }
>

export type AttentionEvent = OperationNeedsAttention | OperationAttentionCleared

export const ATTENTION_EVENTS = ['OperationNeedsAttention', 'OperationAttentionCleared'] as const satisfies readonly AttentionEvent['type'][]

/** The attention part of any operation state. */
export interface AttentionState {
  attention?: string
  deadLetterId?: string
}

/** Folds an attention event into an operation's state; the other fields stay as they are. */
export function evolveAttention<S extends AttentionState>(state: S, event: AttentionEvent): S {
  if (event.type === 'OperationNeedsAttention') return { ...state, attention: event.data.attention, deadLetterId: event.data.deadLetterId }
  if (state.deadLetterId !== event.data.deadLetterId) return state
  const { attention: _a, deadLetterId: _d, ...rest } = state
  return rest as S
}
