import type { Event, StreamType } from './event.ts'
import * as streams from './stream-name.ts'

/**
 * A unit of work that kept failing and was set aside: a webhook notification the worker could not
 * process, or a process-manager task. `subject` is the inbox notification id or the task's
 * operation stream. Admin actions on it are events on this stream, so the audit log shows who
 * replayed or discarded what, and why.
 */
export type DeadLetterRecorded = Event<
  'DeadLetterRecorded',
  { deadLetterId: string; kind: 'webhook' | 'task'; subject: string; detail: string; error: string; attempts: number; attention?: string }
>
export type DeadLetterReplayed = Event<'DeadLetterReplayed', { deadLetterId: string }>
export type DeadLetterDiscarded = Event<'DeadLetterDiscarded', { deadLetterId: string; reason: string }>

export type DeadLetterEvent = DeadLetterRecorded | DeadLetterReplayed | DeadLetterDiscarded

export interface DeadLetterState {
  status: 'none' | 'open' | 'replayed' | 'discarded'
  kind?: 'webhook' | 'task'
  subject?: string
}

export const initialState: DeadLetterState = { status: 'none' }

export function evolve(state: DeadLetterState, event: DeadLetterEvent): DeadLetterState {
  switch (event.type) {
    case 'DeadLetterRecorded':
      return { status: 'open', kind: event.data.kind, subject: event.data.subject }
    case 'DeadLetterReplayed':
      return { ...state, status: 'replayed' }
    case 'DeadLetterDiscarded':
      return { ...state, status: 'discarded' }
    default: {
      event satisfies never
      return state
    }
  }
}

export const category = 'deadletter'
export const streamName = (id: string) => streams.streamName(category, id)
export const deadLetter: StreamType<DeadLetterState, DeadLetterEvent> = { category, streamName, initialState, evolve }
