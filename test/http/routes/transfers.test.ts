import t from 'tap'
import { httpHarness } from '../../helpers/http.ts'

t.test('POST /transfers to one of our wallets reserves on the source and answers 202', async (t) => {
  const { post, get, activeWallet } = await httpHarness(t)
  const source = await activeWallet('a', '50')
  const destination = await activeWallet('b')
  const res = await post('/transfers', { sourceWalletId: source, destination: { type: 'wallet', walletId: destination }, amount: '20' })
  t.equal(res.statusCode, 202)
  const transfer = res.json()
  t.match(transfer, { sourceWalletId: source, destination: { type: 'wallet', walletId: destination }, amount: '20.00', status: 'pending' })
  t.same((await get(res.headers.location as string)).json(), transfer)
  t.equal((await get(`/wallets/${source}`)).json().balances.reserved, '20.00')
})

t.test('POST /transfers to a blockchain address checks chain and address format', async (t) => {
  const { post, activeWallet } = await httpHarness(t)
  const source = await activeWallet('a', '50')
  const ok = await post('/transfers', { sourceWalletId: source, destination: { type: 'blockchain', chain: 'SOL', address: '4Nd1mBQtrMJVYVfKf2PJy9NZUZdTAsp7D4xWLs4gDB4T' }, amount: '1' })
  t.equal(ok.statusCode, 202)
  const badAddress = await post('/transfers', { sourceWalletId: source, destination: { type: 'blockchain', chain: 'ETH', address: '0x1234' }, amount: '1' })
  t.equal(badAddress.statusCode, 422)
  t.equal(badAddress.json().error.code, 'invalid_address')
  const badChain = await post('/transfers', { sourceWalletId: source, destination: { type: 'blockchain', chain: 'DOGE', address: 'D8vFz4p1L37jdg47HXKtSHA5uYLYxbGgPD' }, amount: '1' })
  t.equal(badChain.json().error.code, 'unsupported_chain')
  const badType = await post('/transfers', { sourceWalletId: source, destination: { type: 'iban', address: 'x' }, amount: '1' })
  t.equal(badType.statusCode, 400)
})

t.test('a transfer beyond the balance is 422 insufficient_funds; to itself is 422 same_wallet', async (t) => {
  const { post, activeWallet } = await httpHarness(t)
  const source = await activeWallet('a', '5')
  const other = await activeWallet('b')
  t.equal((await post('/transfers', { sourceWalletId: source, destination: { type: 'wallet', walletId: other }, amount: '5.01' })).json().error.code, 'insufficient_funds')
  t.equal((await post('/transfers', { sourceWalletId: source, destination: { type: 'wallet', walletId: source }, amount: '1' })).json().error.code, 'same_wallet')
})

t.test('GET /transfers of an unknown id is 404', async (t) => {
  const { get } = await httpHarness(t)
  t.equal((await get('/transfers/00000000-0000-4000-8000-000000000000')).statusCode, 404)
})
