import t from 'tap'
import { isValidAddress, SUPPORTED_CHAINS } from '../../../../src/commands/chains.ts'
import { base58, fakeAddress, fakeTxHash } from '../../../../src/adapters/circle/simulator/chains.ts'

t.test('base58 matches the Bitcoin alphabet encoding, leading zero bytes as 1s', async (t) => {
  t.equal(base58(Buffer.from('hello world')), 'StV1DL6CwTryKyV')
  t.equal(base58(Buffer.from([0, 0, 1])), '112')
  t.equal(base58(Buffer.alloc(32)), '1'.repeat(32))
})

t.test('every simulated deposit address passes the ledger’s own address check for its chain', async (t) => {
  for (const chain of SUPPORTED_CHAINS) {
    for (let i = 0; i < 50; i++) {
      const { address } = fakeAddress(chain)
      if (!isValidAddress(chain, address)) t.fail(`${chain}: ${address} is not a valid address`)
    }
    t.pass(`${chain} addresses are valid`)
  }
})

t.test('transaction hashes have each chain’s format', async (t) => {
  const formats: Record<string, RegExp> = {
    SOL: /^[1-9A-HJ-NP-Za-km-z]{80,88}$/,
    ETH: /^0x[0-9a-f]{64}$/,
    BASE: /^0x[0-9a-f]{64}$/,
    POLY: /^0x[0-9a-f]{64}$/,
    ARB: /^0x[0-9a-f]{64}$/,
    AVAX: /^0x[0-9a-f]{64}$/,
    OP: /^0x[0-9a-f]{64}$/,
    CELO: /^0x[0-9a-f]{64}$/,
    XLM: /^[0-9a-f]{64}$/,
    TRX: /^[0-9a-f]{64}$/,
    ALGO: /^[A-Z2-7]{52}$/,
    NEAR: /^[1-9A-HJ-NP-Za-km-z]{32,44}$/,
    HBAR: /^0\.0\.\d+@\d+\.\d+$/,
  }
  t.same(Object.keys(formats).sort(), [...SUPPORTED_CHAINS].sort(), 'every supported chain has a format here')
  for (const [chain, format] of Object.entries(formats)) {
    for (let i = 0; i < 50; i++) {
      const hash = fakeTxHash(chain)
      if (!format.test(hash)) t.fail(`${chain}: ${hash}`)
    }
    t.pass(`${chain} hashes match ${format}`)
  }
})
