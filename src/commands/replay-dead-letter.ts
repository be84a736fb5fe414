import { z } from 'zod'
import type { AttentionEvent } from '../events/attention.ts'
import { deadLetter, type DeadLetterEvent, type DeadLetterState } from '../events/dead-letter.ts'
import { DomainError } from './errors.ts'
import type { Decider, Decision } from './handler.ts'
import { operationRef } from './record-dead-letter.ts'
import { id } from './rules.ts'

export const schema = z.object({ deadLetterId: id })
export type ReplayDeadLetter = z.infer<typeof schema>
/** `operation`, a task's operation stream (of any operation type), is written to, never read from. */
type State = { deadLetter: DeadLetterState; operation?: unknown }
type Events = { deadLetter: DeadLetterEvent; operation: AttentionEvent }

/** An open dead letter goes back to its queue; a task's operation stops showing that it needs attention. */
function decide(command: ReplayDeadLetter, state: State): Decision<Events> {
  const s = state.deadLetter
  if (s.status === 'none') throw new DomainError('not_found', `dead letter ${command.deadLetterId} does not exist`)
  if (s.status !== 'open') throw new DomainError('dead_letter_not_open', `dead letter ${command.deadLetterId} is already ${s.status}`)
  const { deadLetterId } = command
  const replayed: DeadLetterEvent[] = [{ type: 'DeadLetterReplayed', data: { deadLetterId } }]
  if (s.kind !== 'task') return { deadLetter: replayed }
  return { deadLetter: replayed, operation: [{ type: 'OperationAttentionCleared', data: { deadLetterId, resolution: 'replayed' } }] }
}

export const replayDeadLetter: Decider<ReplayDeadLetter, State, Events> = {
  schema,
  streams: (c) => ({ deadLetter: { type: deadLetter, id: c.deadLetterId } }),
  related: (_c, s) => ({ operation: s.deadLetter?.kind === 'task' && s.deadLetter.subject ? operationRef(s.deadLetter.subject) : null }),
  decide,
  correlationId: (c) => c.deadLetterId,
}
