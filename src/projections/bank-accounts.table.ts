import type { DocumentColumns } from './document.table.ts'

/** Linked wire bank accounts: Circle's wire id and the last 4 digits, never the full number. */
export interface BankAccountsTable extends DocumentColumns {
  owner_id: string
  status: string
  circle_wire_id: string | null
}
