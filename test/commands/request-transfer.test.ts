import t from 'tap'
import { requestTransfer, type RequestTransfer } from '../../src/commands/request-transfer.ts'
import type { TransferDestination } from '../../src/events/transfer.ts'
import { spec } from '../helpers/spec.ts'
import { activeWallet, ids, pendingWallet, usd } from '../helpers/fixtures.ts'

const toWallet: RequestTransfer = { transferId: ids.transfer, sourceWalletId: ids.wallet, destination: { type: 'wallet', walletId: ids.otherWallet }, amount: usd('10') }
const onChain = (chain: string, address: string, addressTag?: string): RequestTransfer => ({
  ...toWallet,
  destination: addressTag === undefined ? { type: 'blockchain', chain, address } : { type: 'blockchain', chain, address, addressTag },
})
const source = activeWallet(ids.wallet, 'owner-1', usd('100'))
const wallets = { source, destination: activeWallet(ids.otherWallet, 'owner-2') }
/** What a transfer of 10 to `destination` appends. */
const requested = (destination: TransferDestination) => ({
  transfer: [{ type: 'TransferRequested' as const, data: { transferId: ids.transfer, sourceWalletId: ids.wallet, destination, amount: '10000000' } }],
  source: [{ type: 'FundsReserved' as const, data: { walletId: ids.wallet, operationId: ids.transfer, amount: '10000000' } }],
})

t.test('a transfer to one of our wallets opens the operation and reserves the amount', async (t) => {
  spec(t, requestTransfer)
    .given(wallets)
    .when(toWallet)
    .then({
      transfer: [{ type: 'TransferRequested', data: { transferId: ids.transfer, sourceWalletId: ids.wallet, destination: { type: 'wallet', walletId: ids.otherWallet }, amount: '10000000' } }],
      source: [{ type: 'FundsReserved', data: { walletId: ids.wallet, operationId: ids.transfer, amount: '10000000' } }],
    })
})

t.test('transfers to well-formed addresses on every supported chain family are accepted', async (t) => {
  const good: [string, string, string?][] = [
    ['ETH', '0x52908400098527886E0F7030069857D2E4169EE7'],
    ['POLY', '0x8617e340b3d01fa5f11f306f4090fd50e238070d'],
    ['ARB', '0xde709f2102306220921060314715629080e2fb77'],
    ['BASE', '0x27b1fdb04752bbc536007a920d24acb045561c26'],
    ['AVAX', '0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed'],
    ['SOL', '4Nd1mBQtrMJVYVfKf2PJy9NZUZdTAsp7D4xWLs4gDB4T'],
    ['SOL', '11111111111111111111111111111111'],
    ['XLM', 'GA7QYNF7SOWQ3GLR2BGMZEHXAVIRZA4KVWLTJJFC7MGXUA74P7UJVSGZ', '123456'],
    ['ALGO', 'VCMJKWOY5P5P7SKMZFFOCEROPJCZOTIJMNIYNUCKH7LRO45JMJP6UYBIJA'],
    ['TRX', 'TJRabPrwbZy45sbavfcjinPJC18kjpRTv8'],
    ['HBAR', '0.0.123456', 'memo-1'],
  ]
  for (const [chain, address, tag] of good) {
    const destination: TransferDestination = tag === undefined ? { type: 'blockchain', chain, address } : { type: 'blockchain', chain, address, addressTag: tag }
    spec(t, requestTransfer).given({ source }).when(onChain(chain, address, tag)).then(requested(destination), `${chain} ${address}`)
  }
})

t.test('a malformed address for its chain is rejected with invalid_address', async (t) => {
  const bad: [string, string, string?][] = [
    ['ETH', '0x5290840009852788'],
    ['ETH', '52908400098527886E0F7030069857D2E4169EE7'],
    ['POLY', '0xZZ08400098527886E0F7030069857D2E4169EE7'],
    ['BASE', '4Nd1mBQtrMJVYVfKf2PJy9NZUZdTAsp7D4xWLs4gDB4T'],
    ['SOL', '0x52908400098527886E0F7030069857D2E4169EE7'],
    ['SOL', '4Nd1mBQtrMJVYVfKf2PJy9NZUZdTAsp7D4xWLs4gDB40'],
    ['SOL', '1111111111111111111111111111111111111111111'],
    ['XLM', 'GA7QYNF7SOWQ3GLR2BGMZEHX'],
    ['TRX', 'TJRabPrwbZy45sbavfcjinPJC18kjpRTv9'],
    ['ETH', '0x52908400098527886E0F7030069857D2E4169EE7', 'tag-not-allowed'],
  ]
  for (const [chain, address, tag] of bad) {
    spec(t, requestTransfer).given({ source }).when(onChain(chain, address, tag)).thenRejects('invalid_address', `${chain} ${address}${tag ? ' with tag' : ''}`)
  }
})

t.test('an unsupported chain is rejected with unsupported_chain', async (t) => {
  spec(t, requestTransfer).given({ source }).when(onChain('DOGE', 'D8vFz4p1L37jdg47HXKtSHA5uYLYxbGgPD')).thenRejects('unsupported_chain')
})

t.test('a transfer beyond the available balance is rejected with insufficient_funds', async (t) => {
  spec(t, requestTransfer).given(wallets).when({ ...toWallet, amount: usd('100.01') }).thenRejects('insufficient_funds')
})

t.test('unknown, inactive or identical wallets are rejected', async (t) => {
  spec(t, requestTransfer).given({ ...wallets, source: [] }).when(toWallet).thenRejects('wallet_not_found', 'unknown source')
  spec(t, requestTransfer).given({ ...wallets, source: pendingWallet() }).when(toWallet).thenRejects('wallet_not_active', 'inactive source')
  spec(t, requestTransfer).given({ ...wallets, destination: [] }).when(toWallet).thenRejects('wallet_not_found', 'unknown destination')
  spec(t, requestTransfer).given({ ...wallets, destination: pendingWallet(ids.otherWallet) }).when(toWallet).thenRejects('wallet_not_active', 'inactive destination')
  spec(t, requestTransfer).given({ source, destination: source }).when({ ...toWallet, destination: { type: 'wallet', walletId: ids.wallet } }).thenRejects('same_wallet')
})

t.test('reusing a transfer id is rejected with already_exists', async (t) => {
  const existing = spec(t, requestTransfer).given(wallets).when(toWallet).decision().transfer ?? []
  spec(t, requestTransfer).given({ ...wallets, transfer: existing }).when(toWallet).thenRejects('already_exists')
})
