import { randomUUID } from 'node:crypto'
import t from 'tap'
import { addressKey, circleIds, findByCircleId } from '../../src/projections/circle-ids.ts'
import { projectionSpec } from '../helpers/projection.ts'

t.test('every Circle id an event names maps to its stream; the first naming wins', async (t) => {
  const { db, record, apply, coveredAll } = await projectionSpec(t)
  const [w, b, m, r, tr, c] = [randomUUID(), randomUUID(), randomUUID(), randomUUID(), randomUUID(), randomUUID()]
  const events = [
    record(`wallet-${w}`, { type: 'WalletCreated', data: { walletId: w, circleWalletId: 'cw-1' } }),
    record(`wallet-${w}`, { type: 'DepositAddressCreated', data: { walletId: w, addressId: 'a', chain: 'XLM', address: 'GADDR', addressTag: '77' } }),
    record(`bankaccount-${b}`, { type: 'BankAccountSubmitted', data: { bankAccountId: b, circleWireId: 'wire-1' } }),
    record(`bankaccount-${b}`, { type: 'BankAccountLinked', data: { bankAccountId: b, circleWireId: 'wire-1' } }),
    record(`mint-${m}`, { type: 'MintSubmitted', data: { mintId: m, circleTransferId: 'ct-m' } }),
    record(`mint-${m}`, { type: 'MintCompleted', data: { mintId: m, circleTransferId: 'ct-m' } }),
    record(`redeem-${r}`, { type: 'RedeemTransferSubmitted', data: { redeemId: r, circleTransferId: 'ct-r1' } }),
    record(`redeem-${r}`, { type: 'RedeemTransferCompleted', data: { redeemId: r, circleTransferId: 'ct-r1' } }),
    record(`redeem-${r}`, { type: 'RedeemPayoutSubmitted', data: { redeemId: r, circlePayoutId: 'po-1' } }),
    record(`redeem-${r}`, { type: 'RedeemCompleted', data: { redeemId: r, circlePayoutId: 'po-1' } }),
    record(`redeem-${r}`, { type: 'RedeemCompensationSubmitted', data: { redeemId: r, circleTransferId: 'ct-r2' } }),
    record(`transfer-${tr}`, { type: 'TransferSubmitted', data: { transferId: tr, circleTransferId: 'ct-t' } }),
    record(`transfer-${tr}`, { type: 'TransferCompleted', data: { transferId: tr, circleTransferId: 'ct-t' } }),
    record('deposit-ct-d', { type: 'DepositCompleted', data: { depositId: 'ct-d', walletId: w, circleTransferId: 'ct-d', amount: '1' } }),
    record(`card-${c}`, { type: 'CardIssued', data: { cardId: c, issuerCardId: 'iss-1', last4: '4242', expMonth: 1, expYear: 2030, network: 'VISA' } }),
    record(`mint-${m}`, { type: 'MintRequested', data: { mintId: m, walletId: w, amount: '1' } }),
  ]
  await apply(circleIds, events.slice(0, 8))
  await apply(circleIds, events)
  const expect = {
    'cw-1': ['wallet', `wallet-${w}`],
    [addressKey('XLM', 'GADDR', '77')]: ['address', `wallet-${w}`],
    'wire-1': ['wire', `bankaccount-${b}`],
    'ct-m': ['mint_transfer', `mint-${m}`],
    'ct-r1': ['redeem_transfer', `redeem-${r}`],
    'po-1': ['redeem_payout', `redeem-${r}`],
    'ct-r2': ['redeem_compensation', `redeem-${r}`],
    'ct-t': ['transfer', `transfer-${tr}`],
    'ct-d': ['deposit', 'deposit-ct-d'],
    'iss-1': ['card', `card-${c}`],
  }
  for (const [id, [kind, stream]] of Object.entries(expect)) t.match(await findByCircleId(db, id), { kind, stream }, `${id} -> ${stream}`)
  t.equal((await db.selectFrom('circle_ids').select('circle_id').execute()).length, Object.keys(expect).length)
  t.equal((await findByCircleId(db, 'ct-m'))!.entity_id, m)
  t.equal(await findByCircleId(db, 'unknown'), undefined)
  coveredAll(t, circleIds)
})
