import { z } from 'zod'
import type { AttentionEvent } from '../events/attention.ts'
import { bankAccount } from '../events/bank-account.ts'
import { card } from '../events/card.ts'
import { deadLetter, type DeadLetterEvent, type DeadLetterRecorded, type DeadLetterState } from '../events/dead-letter.ts'
import type { StreamType } from '../events/event.ts'
import type { AnyEvent } from '../events/fold.ts'
import { mint } from '../events/mint.ts'
import { redeem } from '../events/redeem.ts'
import { parseStreamName } from '../events/stream-name.ts'
import { transfer } from '../events/transfer.ts'
import { wallet } from '../events/wallet.ts'
import type { Decider, Decision, StreamRef } from './handler.ts'
import { id } from './rules.ts'

/** The operation streams a process-manager task can belong to, by category (the stream name's prefix). */
const operationTypes: Record<string, StreamType<unknown, AnyEvent>> = Object.fromEntries(
  [wallet, bankAccount, mint, redeem, transfer, card].map((t) => [t.category, t as unknown as StreamType<unknown, AnyEvent>]),
)

/** The operation stream `stream` names, when it is one of ours. */
export function operationRef(stream: string): StreamRef | null {
  const { category, id } = parseStreamName(stream)
  const type = category ? operationTypes[category] : undefined
  return type ? { type, id } : null
}

export const schema = z.object({
  deadLetterId: id,
  kind: z.enum(['webhook', 'task']),
  /** The inbox notification id, or the task's operation stream. */
  subject: z.string().min(1).max(300),
  /** The notification type, or the task kind. */
  detail: z.string().min(1).max(100),
  /** The whole message; the dead-letter row keeps its first 1000 characters. */
  error: z.string(),
  attempts: z.number().int().nonnegative(),
  /** For a task: the state its operation shows until an admin acts. */
  attention: z.string().min(1).max(64).optional(),
})
export type RecordDeadLetter = z.infer<typeof schema>
/** `operation`, a task's operation stream (of any operation type), is written to, never read from. */
type State = { deadLetter: DeadLetterState; operation?: unknown }
type Events = { deadLetter: DeadLetterEvent; operation: AttentionEvent }

/**
 * Sets a failing unit of work aside. A task's operation is flagged in the same append, so its read
 * models and the audit log show that it needs attention.
 */
function decide(command: RecordDeadLetter, state: State): Decision<Events> {
  if (state.deadLetter.status !== 'none') return { deadLetter: [] }
  const data: DeadLetterRecorded['data'] = {
    deadLetterId: command.deadLetterId,
    kind: command.kind,
    subject: command.subject,
    detail: command.detail,
    error: command.error,
    attempts: command.attempts,
  }
  if (command.attention !== undefined) data.attention = command.attention
  const recorded: DeadLetterEvent[] = [{ type: 'DeadLetterRecorded', data }]
  if (command.kind !== 'task' || command.attention === undefined || operationRef(command.subject) === null) return { deadLetter: recorded }
  return {
    deadLetter: recorded,
    operation: [{ type: 'OperationNeedsAttention', data: { attention: command.attention, deadLetterId: command.deadLetterId, error: command.error } }],
  }
}

export const recordDeadLetter: Decider<RecordDeadLetter, State, Events> = {
  schema,
  streams: (c) => ({ deadLetter: { type: deadLetter, id: c.deadLetterId }, operation: c.kind === 'task' ? operationRef(c.subject) : null }),
  decide,
  correlationId: (c) => (c.kind === 'task' ? (operationRef(c.subject)?.id ?? c.deadLetterId) : c.deadLetterId),
}
