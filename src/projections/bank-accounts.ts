import type { Kysely } from 'kysely'
import type { Database } from '../database.ts'
import { bankAccount, type BankAccountEvent } from '../events/bank-account.ts'
import { documentModel, listDocuments, readDocument } from './document.ts'
import type { PageRequest } from './pagination.ts'

export const bankAccounts = documentModel<typeof bankAccount.initialState, BankAccountEvent>({
  name: 'bank-accounts',
  version: 1,
  table: 'bank_accounts',
  type: bankAccount,
  handles: { BankAccountLinkRequested: true, BankAccountSubmitted: true, BankAccountLinked: true, BankAccountLinkFailed: true, OperationNeedsAttention: true, OperationAttentionCleared: true },
  columns: (s) => ({ owner_id: s.ownerId ?? '', status: s.status === 'none' ? 'pending' : s.status, circle_wire_id: s.circleWireId ?? null }),
})

export const getBankAccount = (db: Kysely<Database>, id: string) => readDocument(db, bankAccounts, id)

export const listBankAccounts = (db: Kysely<Database>, filter: { ownerId?: string | undefined }, page: PageRequest) =>
  listDocuments(db, bankAccounts, { equals: { owner_id: filter.ownerId } }, page)
