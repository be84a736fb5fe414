import t from 'tap'
import { createWallet, schema } from '../../src/commands/create-wallet.ts'
import { spec } from '../helpers/spec.ts'
import { ids, pendingWallet } from '../helpers/fixtures.ts'

t.test('a new wallet is requested with its owner and description', async (t) => {
  spec(t, createWallet)
    .when({ walletId: ids.wallet, ownerId: 'owner-1', description: 'savings' })
    .then({ wallet: [{ type: 'WalletCreationRequested', data: { walletId: ids.wallet, ownerId: 'owner-1', description: 'savings' } }] })
})

t.test('creating a wallet id that exists is rejected with already_exists', async (t) => {
  spec(t, createWallet).given({ wallet: pendingWallet() }).when({ walletId: ids.wallet, ownerId: 'owner-1' }).thenRejects('already_exists')
})

t.test('an ownerId with a space or line break at either end, or blank, is refused with one message', async (t) => {
  for (const ownerId of [' owner-1', 'owner-1 ', '   ', 'owner-1\r\n']) {
    t.same(schema.safeParse({ walletId: ids.wallet, ownerId }).error?.issues.map((i) => i.message), ['ownerId must not start or end with a space or a line break'], JSON.stringify(ownerId))
  }
  t.equal(schema.safeParse({ walletId: ids.wallet, ownerId: '' }).error?.issues.length, 1, 'empty: only that it is too short')
  t.ok(schema.safeParse({ walletId: ids.wallet, ownerId: 'user 42' }).success)
})
