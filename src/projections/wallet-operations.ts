import { sql, type Insertable, type Kysely } from 'kysely'
import { insertRows, underParameterLimit } from '../adapters/postgres/insert-rows.ts'
import type { Database } from '../database.ts'
import type { OperationStatus } from '../events/event.ts'
import type { DepositEvent } from '../events/deposit.ts'
import type { MintEvent } from '../events/mint.ts'
import type { RedeemEvent } from '../events/redeem.ts'
import type { TransferEvent } from '../events/transfer.ts'
import { parseStreamName } from '../events/stream-name.ts'
import type { Projection, Recorded } from '../subscriptions/projection.ts'
import { pageQuery, type PageRequest } from './pagination.ts'
import type { WalletOperationsTable } from './wallet-operations.table.ts'

type Handled = MintEvent | RedeemEvent | TransferEvent | DepositEvent
type Row = Insertable<WalletOperationsTable> & { created_at: string; updated_at: string; status: OperationStatus }

// A status only ever moves forward; a late event cannot take an operation back.
const rank: Record<OperationStatus, number> = { pending: 0, processing: 1, completed: 2, failed: 2 }

/** The timeline rows an operation's first event creates. */
function opened(e: Recorded<Handled>, operationId: string): Row[] {
  const at = { created_at: e.metadata.occurredAt, updated_at: e.metadata.occurredAt, position: e.position, operation_id: operationId }
  switch (e.type) {
    case 'MintRequested':
      return [{ ...at, wallet_id: e.data.walletId, kind: 'mint', direction: 'in', status: 'pending', amount: e.data.amount }]
    case 'RedeemRequested':
      return [{ ...at, wallet_id: e.data.walletId, kind: 'redeem', direction: 'out', status: 'pending', amount: e.data.amount }]
    case 'TransferRequested': {
      const out: Row = { ...at, wallet_id: e.data.sourceWalletId, kind: 'transfer', direction: 'out', status: 'pending', amount: e.data.amount }
      const d = e.data.destination
      return d.type === 'wallet' ? [out, { ...out, wallet_id: d.walletId, direction: 'in' }] : [out]
    }
    case 'DepositCompleted':
      return [{ ...at, wallet_id: e.data.walletId, kind: 'deposit', direction: 'in', status: 'completed', amount: e.data.amount }]
    default:
      return []
  }
}

/** The status an event moves its operation to, when it moves it. */
function statusAfter(e: Recorded<Handled>): OperationStatus | undefined {
  switch (e.type) {
    case 'MintSubmitted':
    case 'RedeemTransferSubmitted':
    case 'RedeemTransferCompleted':
    case 'RedeemPayoutSubmitted':
    case 'RedeemPayoutFailed':
    case 'RedeemCompensationSubmitted':
    case 'TransferSubmitted':
      return 'processing'
    case 'MintCompleted':
    case 'RedeemCompleted':
    case 'TransferCompleted':
      return 'completed'
    case 'MintFailed':
    case 'RedeemFailed':
    case 'TransferFailed':
      return 'failed'
    default:
      return undefined
  }
}

export const walletOperations: Projection<Handled> = {
  name: 'wallet-operations',
  version: 1,
  handles: [
    'MintRequested',
    'MintSubmitted',
    'MintCompleted',
    'MintFailed',
    'RedeemRequested',
    'RedeemTransferSubmitted',
    'RedeemTransferCompleted',
    'RedeemPayoutSubmitted',
    'RedeemPayoutFailed',
    'RedeemCompensationSubmitted',
    'RedeemCompleted',
    'RedeemFailed',
    'TransferRequested',
    'TransferSubmitted',
    'TransferCompleted',
    'TransferFailed',
    'DepositCompleted',
  ],
  tables: ['wallet_operations'],
  async handle(trx, events) {
    // One insert and one update per batch (more updates only past PostgreSQL's parameter limit):
    // rows opened in this batch take the later statuses of the same batch before they are written.
    const inserts = new Map<string, Row[]>()
    const updates = new Map<string, { status: OperationStatus; updated_at: string; position: string }>()
    for (const e of events) {
      const operationId = parseStreamName(e.stream).id
      const rows = opened(e, operationId)
      if (rows.length > 0) {
        inserts.set(operationId, rows)
        continue
      }
      const status = statusAfter(e)
      if (!status) continue
      const change = { status, updated_at: e.metadata.occurredAt, position: e.position }
      const pending = inserts.get(operationId)
      if (pending) {
        for (const row of pending) if (rank[status] > rank[row.status]) Object.assign(row, change)
        continue
      }
      const previous = updates.get(operationId)
      if (!previous || rank[status] > rank[previous.status]) updates.set(operationId, change)
    }
    const rows = [...inserts.values()].flat()
    if (rows.length > 0) {
      await insertRows(trx, 'wallet_operations', rows, { skipConflictsOn: ['wallet_id', 'operation_id'] })
    }
    // Five parameters a row: a rebuild's page can change more rows than one statement holds.
    for (const slice of underParameterLimit([...updates], 5)) {
      const values = sql.join(slice.map(([id, u]) => sql`(${id}, ${u.status}, ${rank[u.status]}::int, ${u.updated_at}::timestamptz, ${u.position})`))
      await sql`
        UPDATE wallet_operations w SET status = v.status, updated_at = v.updated_at, position = v.position
        FROM (VALUES ${values}) AS v(operation_id, status, rank, updated_at, position)
        WHERE w.operation_id = v.operation_id
          AND (CASE w.status WHEN 'pending' THEN 0 WHEN 'processing' THEN 1 ELSE 2 END) < v.rank`.execute(trx)
    }
  },
}

/** A wallet's operations, newest first. */
export function listWalletOperations(db: Kysely<Database>, walletId: string, page: PageRequest) {
  const query = db.selectFrom('wallet_operations').selectAll().where('wallet_id', '=', walletId)
  return pageQuery(query, page, (r) => r, { column: 'operation_id' })
}
