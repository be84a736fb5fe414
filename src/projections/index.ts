import type { AnyEvent } from '../events/fold.ts'
import type { Projection } from '../subscriptions/projection.ts'
import { bankAccounts } from './bank-accounts.ts'
import { cards } from './cards.ts'
import { circleIds } from './circle-ids.ts'
import { deposits } from './deposits.ts'
import type { DocumentModel } from './document.ts'
import { mints } from './mints.ts'
import { redeems } from './redeems.ts'
import { transfers } from './transfers.ts'
import { walletOperations } from './wallet-operations.ts'
import { wallets } from './wallets.ts'

/** The read models that hold one folded stream per row (also the command side's snapshots). */
export const documentModels = [wallets, bankAccounts, mints, redeems, transfers, deposits, cards] as unknown as DocumentModel<unknown, AnyEvent>[]

/** Every read model, run together by the projection runner (one read of the log, one transaction per batch). */
export const readModels: Projection[] = [...documentModels.map((m) => m.projection), circleIds, walletOperations] as Projection[]
