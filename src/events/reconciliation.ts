import type { Event, StreamType } from './event.ts'
import * as streams from './stream-name.ts'

/** What started a run. */
export type ReconciliationTrigger = 'schedule' | 'cli' | 'http'
/** clean: nothing found; mismatches: at least one finding; failed: the run could not finish. */
export type ReconciliationOutcome = 'clean' | 'mismatches' | 'failed'

export type ReconciliationRunStarted = Event<'ReconciliationRunStarted', { runId: string; trigger: ReconciliationTrigger; startedAt: string }>
/** `counts`: findings by kind; `checked`: what the run looked at (wallets, operations, Circle resources listed). */
export type ReconciliationRunCompleted = Event<
  'ReconciliationRunCompleted',
  { runId: string; outcome: ReconciliationOutcome; findings: number; counts: Record<string, number>; checked: Record<string, number>; error?: string }
>

export type ReconciliationEvent = ReconciliationRunStarted | ReconciliationRunCompleted

export interface ReconciliationState {
  status: 'none' | 'running' | 'completed'
  outcome?: ReconciliationOutcome
}

export const initialState: ReconciliationState = { status: 'none' }

export function evolve(state: ReconciliationState, event: ReconciliationEvent): ReconciliationState {
  switch (event.type) {
    case 'ReconciliationRunStarted':
      return { status: 'running' }
    case 'ReconciliationRunCompleted':
      return { status: 'completed', outcome: event.data.outcome }
    default: {
      event satisfies never
      return state
    }
  }
}

export const category = 'reconciliation'
export const streamName = (runId: string) => streams.streamName(category, runId)
export const reconciliation: StreamType<ReconciliationState, ReconciliationEvent> = { category, streamName, initialState, evolve }
