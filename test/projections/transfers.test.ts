import { randomUUID } from 'node:crypto'
import t from 'tap'
import { readDocument } from '../../src/projections/document.ts'
import { transfers } from '../../src/projections/transfers.ts'
import { attentionCycle, projectionSpec } from '../helpers/projection.ts'

t.test('transfer rows: internal and on-chain, completed with a tx hash or failed', async (t) => {
  const spec = await projectionSpec(t)
  const { db, record, apply, coveredAll } = spec
  const [source, dest, internal, chain] = [randomUUID(), randomUUID(), randomUUID(), randomUUID()]
  const events = [
    record(`transfer-${internal}`, { type: 'TransferRequested', data: { transferId: internal, sourceWalletId: source, destination: { type: 'wallet', walletId: dest }, amount: '5000000' } }),
    record(`transfer-${chain}`, {
      type: 'TransferRequested',
      data: { transferId: chain, sourceWalletId: source, destination: { type: 'blockchain', chain: 'SOL', address: 'addr' }, amount: '7000000' },
    }),
    record(`transfer-${internal}`, { type: 'TransferSubmitted', data: { transferId: internal, circleTransferId: 'ct-i' } }),
    record(`transfer-${chain}`, { type: 'TransferSubmitted', data: { transferId: chain, circleTransferId: 'ct-c' } }),
    record(`transfer-${chain}`, { type: 'TransferCompleted', data: { transferId: chain, circleTransferId: 'ct-c', txHash: '0xabc' } }),
    record(`transfer-${internal}`, { type: 'TransferFailed', data: { transferId: internal, failure: { code: 'circle_1', message: 'no' } } }),
  ]
  await apply(transfers.projection, events)
  await apply(transfers.projection, events)
  t.match(await db.selectFrom('transfers').selectAll().where('id', '=', internal).executeTakeFirstOrThrow(), { wallet_id: source, destination_wallet_id: dest, status: 'failed' })
  t.match(await db.selectFrom('transfers').selectAll().where('id', '=', chain).executeTakeFirstOrThrow(), { destination_wallet_id: null, status: 'completed', circle_id: 'ct-c' })
  t.equal((await readDocument(db, transfers, chain))!.state.txHash, '0xabc')
  await attentionCycle(t, spec, transfers, chain)
  coveredAll(t, transfers.projection)
})
