import { createHash, randomBytes, randomInt } from 'node:crypto'
import { CHAINS, isSupportedChain } from '../../../commands/chains.ts'

const BASE58 = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz'
const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567'

/** Bitcoin-alphabet base58 of the bytes, leading zero bytes as leading '1's (what Solana and Tron print). */
export function base58(bytes: Uint8Array): string {
  let n = 0n
  for (const b of bytes) n = (n << 8n) | BigInt(b)
  let out = ''
  while (n > 0n) {
    out = BASE58.charAt(Number(n % 58n)) + out
    n /= 58n
  }
  for (const b of bytes) {
    if (b !== 0) break
    out = '1' + out
  }
  return out
}

const base32 = (n: number) => Array.from(randomBytes(n), (b) => BASE32[b % 32]).join('')

function tronAddress(): string {
  const payload = Buffer.concat([Buffer.from([0x41]), randomBytes(20)])
  const checksum = createHash('sha256').update(createHash('sha256').update(payload).digest()).digest().subarray(0, 4)
  return base58(Buffer.concat([payload, checksum]))
}

/** A deposit address with its chain's real format (random, owned by no one). */
export function fakeAddress(chain: string): { address: string; addressTag?: string } {
  switch (isSupportedChain(chain) ? CHAINS[chain] : 'evm') {
    case 'solana':
      return { address: base58(randomBytes(32)) }
    case 'stellar':
      return { address: 'G' + base32(55), addressTag: String(randomInt(1_000_000, 9_999_999)) }
    case 'hedera':
      return { address: `0.0.${randomInt(1000, 9_999_999)}`, addressTag: String(randomInt(1_000_000, 9_999_999)) }
    case 'algorand':
      return { address: base32(58) }
    case 'tron':
      return { address: tronAddress() }
    case 'near':
      return { address: randomBytes(32).toString('hex') }
    case 'evm':
      return { address: '0x' + randomBytes(20).toString('hex') }
  }
}

/**
 * A transaction hash as the chain itself prints it: a base58 ed25519 signature (64 bytes) on Solana,
 * 0x + 64 hex on EVM chains, 64 hex on Stellar and Tron, base32 on Algorand, base58 of 32 bytes on
 * NEAR, and Hedera's `account@seconds.nanos` transaction id.
 */
export function fakeTxHash(chain: string): string {
  switch (isSupportedChain(chain) ? CHAINS[chain] : 'evm') {
    case 'solana':
      return base58(randomBytes(64))
    case 'stellar':
    case 'tron':
      return randomBytes(32).toString('hex')
    case 'algorand':
      return base32(52)
    case 'near':
      return base58(randomBytes(32))
    case 'hedera':
      return `0.0.${randomInt(1000, 9_999_999)}@${Math.floor(Date.now() / 1000)}.${randomInt(0, 999_999_999)}`
    case 'evm':
      return '0x' + randomBytes(32).toString('hex')
  }
}
