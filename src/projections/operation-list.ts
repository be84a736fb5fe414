import type { Kysely } from 'kysely'
import type { Database } from '../database.ts'
import type { AnyEvent } from '../events/fold.ts'
import { listDocuments, type DocumentModel } from './document.ts'
import type { PageRequest } from './pagination.ts'

/** The filters every operation list takes. */
export interface OperationFilter {
  walletId?: string | undefined
  status?: string | undefined
  createdAfter?: string | undefined
  createdBefore?: string | undefined
}

export const listOperations = <S>(db: Kysely<Database>, model: DocumentModel<S, AnyEvent>, filter: OperationFilter, page: PageRequest) =>
  listDocuments(
    db,
    model,
    { equals: { wallet_id: filter.walletId, status: filter.status }, createdAfter: filter.createdAfter, createdBefore: filter.createdBefore },
    page,
  )
