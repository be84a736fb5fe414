import type { Position } from '../events/event-store.ts'

/**
 * Positions are opaque strings that the store orders; Postgres and memory positions are decimal
 * integers, which order as text only at equal width. Left-padding them makes the ledger's text
 * keys sort like the store (KurrentDB's positions are fixed-width already and kept as they are).
 */
export function positionKey(position: Position): string {
  return /^[0-9]+$/.test(position) ? position.padStart(20, '0') : position
}
