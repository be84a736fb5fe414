import { randomUUID } from 'node:crypto'
import t from 'tap'
import { execute } from '../../../src/commands/handler.ts'
import { recordTransferOutcome } from '../../../src/commands/record-transfer-outcome.ts'
import { auth } from '../../helpers/app.ts'
import { meta } from '../../helpers/commands.ts'
import { httpHarness } from '../../helpers/http.ts'
import { runLedger } from '../../helpers/ledger.ts'

t.test('journal routes: accounts with their postings and past balances, entries, a zero trial balance', async (t) => {
  const h = await httpHarness(t)
  const ledger = runLedger(t, h.store, h.db, { readModels: h.projections })
  const a = await h.activeWallet('a', '100')
  const b = await h.activeWallet('b')
  const transfer = (await h.post('/transfers', { sourceWalletId: a, destination: { type: 'wallet', walletId: b }, amount: '40' })).json()
  const circleTransferId = `ct-${randomUUID()}`
  await execute(h.store, recordTransferOutcome, { transferId: transfer.id, outcome: { type: 'completed', circleTransferId } }, meta({ actor: 'process-manager' }))
  await ledger.settle()
  const get = (url: string) => h.get(url, auth.auditor)

  const account = (await get(`/journal/accounts/wallet:${a}:available`)).json()
  t.equal(account.balance, '60.00')
  t.same(account.postings.map((p: Record<string, string>) => [p.eventType, p.amount, p.balanceAfter]), [
    ['MintCompleted', '100.00', '100.00'],
    ['TransferRequested', '-40.00', '60.00'],
  ])
  const mintedAt = account.postings[0].position
  const past = (await get(`/journal/accounts/wallet:${a}:available?at=${mintedAt}`)).json()
  t.equal(past.balance, '100.00', 'the balance as it was at the mint')
  t.equal(past.postings.length, 1, 'and only the postings up to then')
  t.equal((await get(`/journal/accounts/wallet:${a}:available?at=2000-01-01T00:00:00Z`)).json().balance, '0.00')
  const paged = (await get(`/journal/accounts/wallet:${a}:available?limit=1`)).json()
  t.equal(paged.next, mintedAt)
  t.same((await get(`/journal/accounts/wallet:${a}:available?limit=1e1`)).json().error.details, [{ field: 'query.limit', message: 'limit must be a whole number written in decimal digits, such as 50' }], 'not read as 10')
  t.equal((await get('/journal/entries?limit=0x2')).statusCode, 400, 'nor 0x2 as 2')
  t.equal((await get(`/journal/accounts/wallet:${a}:available?after=${paged.next}`)).json().postings[0].eventType, 'TransferRequested')
  t.equal((await get('/journal/accounts/circle:treasury')).json().balance, '-100.00', 'the treasury gave what was minted')
  t.equal((await get(`/journal/accounts/wallet:${b}:available`)).json().balance, '40.00')

  const entries = (await get('/journal/entries')).json()
  t.same(entries.entries.map((e: { eventType: string }) => e.eventType), ['MintCompleted', 'TransferRequested', 'TransferCompleted'])
  for (const e of entries.entries) {
    const sum = e.postings.reduce((s: bigint, p: { amount: string }) => s + BigInt(p.amount.replace('.', '')), 0n)
    t.equal(sum, 0n, `entry ${e.position} sums to zero`)
  }
  t.equal(entries.entries[2].operationId, transfer.id, 'an entry names its operation')
  t.equal(entries.entries[2].stream, `transfer-${transfer.id}`, 'and its event')
  t.match(entries.entries[1], { actor: 'dev-backend', requestId: /.+/, circleId: null }, 'the request: the API key and request that caused it')
  t.match(entries.entries[2], { actor: 'process-manager', circleId: circleTransferId }, "the completion: Circle's transfer id")
  t.equal((await get(`/journal/entries?after=${entries.entries[1].position}`)).json().entries.length, 1)

  const trial = (await get('/journal/trial-balance')).json()
  t.match(trial, { total: '0.00', balanced: true })
  t.same(trial.accounts.map((x: { account: string }) => x.account).sort(), ['circle:treasury', `wallet:${a}:available`, `wallet:${a}:held`, `wallet:${b}:available`].sort())

  t.equal((await get(`/journal/accounts/wallet:${randomUUID()}:available`)).statusCode, 404, 'an account never posted to')
  t.equal((await get('/journal/accounts/savings:1')).statusCode, 400, 'not an account name')
  t.equal((await get('/journal/accounts/circle:treasury?at=soon')).json().error.code, 'invalid_moment')
})
