import t from 'tap'
import { issueCard } from '../../src/commands/issue-card.ts'
import { spec } from '../helpers/spec.ts'
import { activeWallet, ids, issuedCard, pendingWallet } from '../helpers/fixtures.ts'

const command = { cardId: ids.card, walletId: ids.wallet, cardholderName: 'Ada Lovelace' }

t.test('a card for an active wallet is requested', async (t) => {
  spec(t, issueCard).given({ wallet: activeWallet() }).when(command).then({ card: [{ type: 'CardRequested', data: command }] })
})

t.test('an unknown or inactive wallet is rejected', async (t) => {
  spec(t, issueCard).when(command).thenRejects('wallet_not_found')
  spec(t, issueCard).given({ wallet: pendingWallet() }).when(command).thenRejects('wallet_not_active')
})

t.test('reusing a card id is rejected with already_exists', async (t) => {
  spec(t, issueCard).given({ card: issuedCard(), wallet: activeWallet() }).when(command).thenRejects('already_exists')
})
