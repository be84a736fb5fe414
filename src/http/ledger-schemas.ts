import { z } from 'zod'
import type { Moment } from '../ledger/journal.ts'
import { positionKey } from '../ledger/position-key.ts'
import { HttpError } from './errors.ts'
import { pageSize } from './schemas.ts'

/** A position of the event log as the store writes it (decimal for Postgres; commit/prepare for KurrentDB). */
export const position = z
  .string()
  .regex(/^[0-9]{1,20}(\/[0-9]{1,20})?$/, 'a position of the event log, such as "1042"')
  .meta({ description: 'A position of the global event log', example: '1042' })

/** `at`, `from`, `to`: a position of the log, or an ISO-8601 instant with its offset. */
export const moment = z
  .string()
  .max(40)
  .meta({ description: 'A position of the event log ("1042") or an ISO-8601 instant ("2026-11-26T09:00:00Z")', example: '2026-11-26T09:00:00Z' })

const INSTANT = z.iso.datetime({ offset: true })

export function parseMoment(value: string, field: string): Moment {
  if (position.safeParse(value).success) return { position: value }
  if (INSTANT.safeParse(value).success) return { time: new Date(value) }
  throw new HttpError(400, 'invalid_moment', `${field} must be a position of the event log or an ISO-8601 instant with offset, got "${value.slice(0, 40)}"`)
}

/** Refuses a period whose end comes before its start (when both are positions or both instants). */
export function assertOrdered(from: Moment, to: Moment): void {
  const backwards =
    ('position' in from && 'position' in to && positionKey(to.position) < positionKey(from.position)) ||
    ('time' in from && 'time' in to && to.time < from.time)
  if (backwards) throw new HttpError(400, 'invalid_range', '`to` comes before `from`')
}

export const limit = (max: number, fallback: number) =>
  pageSize
    .optional()
    .transform((n) => Math.min(n ?? fallback, max))
    .meta({ description: `Page size: ${fallback} by default, at most ${max} (larger values are capped)` })

/** Signed decimal string (journal balances may be negative: circle:treasury, chain:*). */
export const signedAmount = z.string().meta({ description: 'Decimal string, USD (= USDC); negative when the account gave more than it received', example: '-10.50' })

/** Whether the client asked for this media type in preference to JSON. */
export function accepts(accept: string | undefined, type: string): boolean {
  return typeof accept === 'string' && accept.split(',').some((part) => part.replace(/;.*$/s, '').trim().toLowerCase() === type)
}
