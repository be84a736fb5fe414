import t from 'tap'
import { execute } from '../../../src/commands/handler.ts'
import { recordAddressOutcome } from '../../../src/commands/record-address-outcome.ts'
import { meta } from '../../helpers/commands.ts'
import { httpHarness } from '../../helpers/http.ts'

t.test('POST /wallets/address answers 202 pending and the address is listed in the wallet', async (t) => {
  const { post, get, store, activeWallet, settle } = await httpHarness(t)
  const walletId = await activeWallet()
  const res = await post('/wallets/address', { walletId, chain: 'SOL' })
  t.equal(res.statusCode, 202)
  const address = res.json()
  t.match(address, { walletId, chain: 'SOL', status: 'pending' })
  t.same((await get(res.headers.location as string)).json(), address)
  await execute(store, recordAddressOutcome, { walletId, addressId: address.id, outcome: { type: 'created', address: '4Nd1mBQtrMJVYVfKf2PJy9NZUZdTAsp7D4xWLs4gDB4T' } }, meta())
  await settle()
  const wallet = (await get(`/wallets/${walletId}`)).json()
  t.match(wallet.addresses, [{ id: address.id, status: 'active', address: '4Nd1mBQtrMJVYVfKf2PJy9NZUZdTAsp7D4xWLs4gDB4T' }])
})

t.test('unsupported chains, unknown wallets and unknown addresses are refused', async (t) => {
  const { post, get, activeWallet } = await httpHarness(t)
  const walletId = await activeWallet()
  t.equal((await post('/wallets/address', { walletId, chain: 'DOGE' })).json().error.code, 'unsupported_chain')
  t.equal((await post('/wallets/address', { walletId: '00000000-0000-4000-8000-000000000000', chain: 'SOL' })).json().error.code, 'wallet_not_found')
  t.equal((await get(`/wallets/${walletId}/addresses/00000000-0000-4000-8000-000000000000`)).statusCode, 404)
})

t.test('past the configured addresses per wallet the answer is a clear 422', async (t) => {
  const { post, activeWallet } = await httpHarness(t, { maxAddressesPerWallet: 2 })
  const walletId = await activeWallet()
  t.equal((await post('/wallets/address', { walletId, chain: 'SOL' })).statusCode, 202)
  t.equal((await post('/wallets/address', { walletId, chain: 'ETH' })).statusCode, 202)
  const third = await post('/wallets/address', { walletId, chain: 'BASE' })
  t.equal(third.statusCode, 422)
  t.equal(third.json().error.code, 'deposit_address_limit')
  t.match(third.json().error.message, /already has 2 deposit addresses, the most allowed \(2\)/)
  const other = await activeWallet('owner-2')
  t.equal((await post('/wallets/address', { walletId: other, chain: 'BASE' })).statusCode, 202, 'the limit is per wallet')
})
