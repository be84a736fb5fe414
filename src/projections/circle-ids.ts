import type { Kysely } from 'kysely'
import { insertRows, type JsonRow } from '../adapters/postgres/insert-rows.ts'
import type { Database } from '../database.ts'
import type { BankAccountEvent } from '../events/bank-account.ts'
import type { CardEvent } from '../events/card.ts'
import type { DepositEvent } from '../events/deposit.ts'
import type { MintEvent } from '../events/mint.ts'
import type { RedeemEvent } from '../events/redeem.ts'
import { parseStreamName } from '../events/stream-name.ts'
import type { TransferEvent } from '../events/transfer.ts'
import type { WalletEvent } from '../events/wallet.ts'
import type { Projection, Recorded } from '../subscriptions/projection.ts'
import type { CircleIdsTable } from './circle-ids.table.ts'

type Handled = WalletEvent | BankAccountEvent | MintEvent | RedeemEvent | TransferEvent | DepositEvent | CardEvent
type Link = Pick<CircleIdsTable, 'circle_id' | 'kind'>

/** The key a deposit address is found by: chain, address and (where the chain has them) tag. */
export const addressKey = (chain: string, address: string, addressTag?: string) =>
  `address:${chain}:${address}${addressTag === undefined ? '' : `:${addressTag}`}`

function linkOf(e: Recorded<Handled>): Link | undefined {
  switch (e.type) {
    case 'WalletCreated':
      return { circle_id: e.data.circleWalletId, kind: 'wallet' }
    case 'DepositAddressCreated':
      return { circle_id: addressKey(e.data.chain, e.data.address, e.data.addressTag), kind: 'address' }
    case 'BankAccountSubmitted':
    case 'BankAccountLinked':
      return { circle_id: e.data.circleWireId, kind: 'wire' }
    case 'MintSubmitted':
    case 'MintCompleted':
      return { circle_id: e.data.circleTransferId, kind: 'mint_transfer' }
    case 'RedeemTransferSubmitted':
    case 'RedeemTransferCompleted':
      return { circle_id: e.data.circleTransferId, kind: 'redeem_transfer' }
    case 'RedeemPayoutSubmitted':
    case 'RedeemCompleted':
      return { circle_id: e.data.circlePayoutId, kind: 'redeem_payout' }
    case 'RedeemCompensationSubmitted':
      return { circle_id: e.data.circleTransferId, kind: 'redeem_compensation' }
    case 'TransferSubmitted':
    case 'TransferCompleted':
      return { circle_id: e.data.circleTransferId, kind: 'transfer' }
    case 'DepositCompleted':
      return { circle_id: e.data.circleTransferId, kind: 'deposit' }
    case 'CardIssued':
      return { circle_id: e.data.issuerCardId, kind: 'card' }
    default:
      return undefined
  }
}

/** Circle id -> our stream; the first event naming an id wins, later ones naming it again change nothing. */
export const circleIds: Projection<Handled> = {
  name: 'circle-ids',
  version: 1,
  handles: [
    'WalletCreated',
    'DepositAddressCreated',
    'BankAccountSubmitted',
    'BankAccountLinked',
    'MintSubmitted',
    'MintCompleted',
    'RedeemTransferSubmitted',
    'RedeemTransferCompleted',
    'RedeemPayoutSubmitted',
    'RedeemCompleted',
    'RedeemCompensationSubmitted',
    'TransferSubmitted',
    'TransferCompleted',
    'DepositCompleted',
    'CardIssued',
  ],
  tables: ['circle_ids'],
  async handle(trx, events) {
    const rows = new Map<string, JsonRow<CircleIdsTable>>()
    for (const e of events) {
      const link = linkOf(e)
      if (!link || rows.has(link.circle_id)) continue
      rows.set(link.circle_id, { ...link, stream: e.stream, entity_id: parseStreamName(e.stream).id, created_at: e.metadata.occurredAt, position: e.position })
    }
    if (rows.size === 0) return
    await insertRows(trx, 'circle_ids', [...rows.values()], { skipConflictsOn: ['circle_id'] })
  },
}

/** The stream a Circle id belongs to, if any of our operations knows it. */
export async function findByCircleId(db: Kysely<Database>, circleId: string) {
  return db.selectFrom('circle_ids').select(['kind', 'stream', 'entity_id']).where('circle_id', '=', circleId).executeTakeFirst()
}
