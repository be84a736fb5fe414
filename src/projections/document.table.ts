import type { ColumnType } from 'kysely'

/** Micro-units in a numeric column: read back as a decimal string by pg, written from a bigint's string. */
export type Micros = ColumnType<string, string, string>

/**
 * The columns every document read model shares: the stream's folded state as JSON (bigints tagged,
 * see document-codec.ts), the times of its first and last event, and the position and stream
 * revision it was last updated at.
 */
export interface DocumentColumns {
  id: string
  state: ColumnType<unknown, string, string>
  created_at: ColumnType<Date, Date | string, Date | string>
  updated_at: ColumnType<Date, Date | string, Date | string>
  position: string
  /** Revision of the stream's last event folded in: an event at or below it is already in `state`. */
  revision: number
}
