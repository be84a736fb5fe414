import { createHash } from 'node:crypto'

/**
 * Chains we accept for deposit addresses and blockchain transfers (Circle's codes) and the address
 * format of each chain family. Circle validates too; checking here refuses typos before any event.
 */
export type ChainFamily = 'evm' | 'solana' | 'stellar' | 'algorand' | 'tron' | 'hedera' | 'near'

export const CHAINS = {
  ETH: 'evm',
  POLY: 'evm',
  ARB: 'evm',
  BASE: 'evm',
  AVAX: 'evm',
  OP: 'evm',
  CELO: 'evm',
  SOL: 'solana',
  XLM: 'stellar',
  ALGO: 'algorand',
  TRX: 'tron',
  HBAR: 'hedera',
  NEAR: 'near',
} as const satisfies Record<string, ChainFamily>

export type Chain = keyof typeof CHAINS
export const SUPPORTED_CHAINS = Object.keys(CHAINS) as Chain[]

export const isSupportedChain = (chain: string): chain is Chain => Object.hasOwn(CHAINS, chain)

/** Chains whose deposits need a memo / tag beside the address. */
export const TAGGED_CHAINS: readonly Chain[] = ['XLM', 'HBAR']

const BASE58 = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz'

function base58Decode(s: string): Uint8Array | undefined {
  let n = 0n
  for (const c of s) {
    const v = BASE58.indexOf(c)
    if (v < 0) return undefined
    n = n * 58n + BigInt(v)
  }
  const bytes: number[] = []
  while (n > 0n) {
    bytes.unshift(Number(n & 0xffn))
    n >>= 8n
  }
  let zeros = 0
  while (s[zeros] === '1') zeros++
  return Uint8Array.from([...new Array<number>(zeros).fill(0), ...bytes])
}

/** Tron: Base58Check of 0x41 + 20-byte account + the first 4 bytes of sha256(sha256(payload)). */
function isTronAddress(a: string): boolean {
  const bytes = base58Decode(a)
  if (!bytes || bytes.length !== 25 || bytes[0] !== 0x41) return false
  const payload = bytes.subarray(0, 21)
  const checksum = createHash('sha256').update(createHash('sha256').update(payload).digest()).digest().subarray(0, 4)
  return Buffer.compare(checksum, bytes.subarray(21)) === 0
}

const checks: Record<ChainFamily, (address: string) => boolean> = {
  evm: (a) => /^0x[0-9a-fA-F]{40}$/.test(a),
  solana: (a) => /^[1-9A-HJ-NP-Za-km-z]{32,44}$/.test(a) && base58Decode(a)?.length === 32,
  stellar: (a) => /^G[A-Z2-7]{55}$/.test(a),
  algorand: (a) => /^[A-Z2-7]{58}$/.test(a),
  tron: (a) => /^T[1-9A-HJ-NP-Za-km-z]{33}$/.test(a) && isTronAddress(a),
  hedera: (a) => /^0\.0\.[0-9]{1,19}$/.test(a),
  near: (a) => /^[0-9a-f]{64}$/.test(a) || /^(?=.{2,64}$)[a-z0-9]+([_-][a-z0-9]+)*(\.[a-z0-9]+([_-][a-z0-9]+)*)*$/.test(a),
}

/** True when the address has its chain family's format (EVM checksums are not verified). */
export function isValidAddress(chain: Chain, address: string): boolean {
  return checks[CHAINS[chain]](address)
}
