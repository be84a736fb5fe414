import t from 'tap'
import { decide } from '../../src/commands/issue-card.ts'
import { card } from '../../src/events/card.ts'
import { wallet } from '../../src/events/wallet.ts'
import { given, thenRejects } from '../helpers/decider.ts'
import { activeWallet, ids, issuedCard, pendingWallet } from '../helpers/fixtures.ts'

const command = { cardId: ids.card, walletId: ids.wallet, cardholderName: 'Ada Lovelace' }

t.test('a card for an active wallet is requested', async (t) => {
  t.same(decide(command, { card: given(card, []), wallet: given(wallet, activeWallet()) }).card, [{ type: 'CardRequested', data: command }])
})

t.test('an unknown or inactive wallet is rejected', async (t) => {
  thenRejects(t, () => decide(command, { card: given(card, []), wallet: given(wallet, []) }), 'wallet_not_found')
  thenRejects(t, () => decide(command, { card: given(card, []), wallet: given(wallet, pendingWallet()) }), 'wallet_not_active')
})

t.test('reusing a card id is rejected with already_exists', async (t) => {
  thenRejects(t, () => decide(command, { card: given(card, issuedCard()), wallet: given(wallet, activeWallet()) }), 'already_exists')
})
