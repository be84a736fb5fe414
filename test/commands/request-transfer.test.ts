import t from 'tap'
import { decide, type RequestTransfer } from '../../src/commands/request-transfer.ts'
import { transfer } from '../../src/events/transfer.ts'
import { wallet } from '../../src/events/wallet.ts'
import { given, thenRejects } from '../helpers/decider.ts'
import { activeWallet, ids, pendingWallet, usd } from '../helpers/fixtures.ts'

const toWallet: RequestTransfer = { transferId: ids.transfer, sourceWalletId: ids.wallet, destination: { type: 'wallet', walletId: ids.otherWallet }, amount: usd('10') }
const onChain = (chain: string, address: string, addressTag?: string): RequestTransfer => ({
  ...toWallet,
  destination: addressTag === undefined ? { type: 'blockchain', chain, address } : { type: 'blockchain', chain, address, addressTag },
})
const state = (over: Partial<Parameters<typeof decide>[1]> = {}) => ({
  transfer: given(transfer, []),
  source: given(wallet, activeWallet(ids.wallet, 'owner-1', usd('100'))),
  destination: given(wallet, activeWallet(ids.otherWallet, 'owner-2')),
  ...over,
})

t.test('a transfer to one of our wallets opens the operation and reserves the amount', async (t) => {
  const events = decide(toWallet, state())
  t.same(events.transfer[0]?.data, { transferId: ids.transfer, sourceWalletId: ids.wallet, destination: { type: 'wallet', walletId: ids.otherWallet }, amount: '10000000' })
  t.same(events.source, [{ type: 'FundsReserved', data: { walletId: ids.wallet, operationId: ids.transfer, amount: '10000000' } }])
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
    const events = decide(onChain(chain, address, tag), state({ destination: given(wallet, []) }))
    t.equal(events.transfer[0]?.type, 'TransferRequested', `${chain} ${address}`)
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
    thenRejects(t, () => decide(onChain(chain, address, tag), state()), 'invalid_address', `${chain} ${address}${tag ? ' with tag' : ''}`)
  }
})

t.test('an unsupported chain is rejected with unsupported_chain', async (t) => {
  thenRejects(t, () => decide(onChain('DOGE', 'D8vFz4p1L37jdg47HXKtSHA5uYLYxbGgPD'), state()), 'unsupported_chain')
})

t.test('a transfer beyond the available balance is rejected with insufficient_funds', async (t) => {
  thenRejects(t, () => decide({ ...toWallet, amount: usd('100.01') }, state()), 'insufficient_funds')
})

t.test('unknown, inactive or identical wallets are rejected', async (t) => {
  thenRejects(t, () => decide(toWallet, state({ source: given(wallet, []) })), 'wallet_not_found', 'unknown source')
  thenRejects(t, () => decide(toWallet, state({ source: given(wallet, pendingWallet()) })), 'wallet_not_active', 'inactive source')
  thenRejects(t, () => decide(toWallet, state({ destination: given(wallet, []) })), 'wallet_not_found', 'unknown destination')
  thenRejects(t, () => decide(toWallet, state({ destination: given(wallet, pendingWallet(ids.otherWallet)) })), 'wallet_not_active', 'inactive destination')
  thenRejects(t, () => decide({ ...toWallet, destination: { type: 'wallet', walletId: ids.wallet } }, state()), 'same_wallet')
})

t.test('reusing a transfer id is rejected with already_exists', async (t) => {
  const existing = given(transfer, decide(toWallet, state()).transfer)
  thenRejects(t, () => decide(toWallet, state({ transfer: existing })), 'already_exists')
})
