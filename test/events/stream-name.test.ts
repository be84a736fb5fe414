import t from 'tap'
import { bankAccount } from '../../src/events/bank-account.ts'
import { parseStreamName, streamName, streamPrefix } from '../../src/events/stream-name.ts'
import { wallet } from '../../src/events/wallet.ts'

t.test('a stream name is the category, a dash and the id', async (t) => {
  t.equal(streamName('transfer', 'abc'), 'transfer-abc')
  t.equal(wallet.streamName('w-1'), 'wallet-w-1', 'every stream type builds its names here')
  t.equal(bankAccount.streamName('b'), 'bankaccount-b')
  t.equal(streamPrefix('mint'), 'mint-')
  t.ok(streamName('mint', 'x').startsWith(streamPrefix('mint')))
})

t.test('parsing splits at the first dash: ids keep theirs', async (t) => {
  const id = '9b2d4e6f-1a3c-4e5f-8a7b-0c1d2e3f4a5b'
  t.same(parseStreamName(streamName('redeem', id)), { category: 'redeem', id })
  t.same(parseStreamName('wallet-'), { category: 'wallet', id: '' })
  t.same(parseStreamName('nodash'), { category: '', id: 'nodash' }, 'a name without a dash has no category')
  t.same(parseStreamName('-x'), { category: '', id: 'x' })
})
