import { z } from 'zod'
import type { AttentionEvent } from '../events/attention.ts'
import { deadLetter, type DeadLetterEvent, type DeadLetterState } from '../events/dead-letter.ts'
import type { Decider, Decision } from './handler.ts'
import { operationRef } from './record-dead-letter.ts'
import { id } from './rules.ts'

export const schema = z.object({
  deadLetterId: id,
  /** The task's operation stream. */
  subject: z.string().min(1).max(300),
  /** What is stuck now (e.g. `compensation_failed`), as `RecordDeadLetter`'s attention. */
  attention: z.string().min(1).max(64),
  error: z.string(),
})
export type ReflagOperation = z.infer<typeof schema>
/** `operation`, a task's operation stream (of any operation type), is written to, never read from. */
type State = { deadLetter: DeadLetterState; operation?: unknown }
type Events = { deadLetter: DeadLetterEvent; operation: AttentionEvent }

/**
 * A task woken from behind its open dead letter failed again at another step (a redeem whose payout
 * status could not be read, then whose compensation was refused): its operation shows what is stuck
 * now, under the same dead letter. Nothing once the dead letter is no longer open.
 */
function decide(command: ReflagOperation, state: State): Decision<Events> {
  if (state.deadLetter.status !== 'open') return { deadLetter: [] }
  const { deadLetterId, attention, error } = command
  return { deadLetter: [], operation: [{ type: 'OperationNeedsAttention', data: { attention, deadLetterId, error } }] }
}

export const reflagOperation: Decider<ReflagOperation, State, Events> = {
  schema,
  streams: (c) => ({ deadLetter: { type: deadLetter, id: c.deadLetterId }, operation: operationRef(c.subject) }),
  decide,
  correlationId: (c) => operationRef(c.subject)?.id ?? c.deadLetterId,
}
