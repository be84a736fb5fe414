import { v5 as uuidv5 } from 'uuid'

/** Namespace of every id this service derives. */
const LEDGER_NAMESPACE = 'b3f0c8f2-5d0e-4f7a-9a51-3c2d1f0e6a77'

/** A UUIDv5 of the parts joined by '/': the same parts always give the same id, across restarts. */
export const deriveId = (...parts: string[]): string => uuidv5(parts.join('/'), LEDGER_NAMESPACE)

/** Circle (or card issuer) idempotency key for one step of one operation: the same after any restart. */
export const circleKey = (operationId: string, step: string): string => deriveId(operationId, step)

/** Command id for recording an outcome on a stream; re-recording it appends nothing new. */
export const outcomeCommandId = (stream: string, outcome: string): string => deriveId(stream, outcome)
