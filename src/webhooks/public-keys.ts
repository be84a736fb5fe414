import { createPublicKey, type KeyObject } from 'node:crypto'
import { z } from 'zod'
import { setRecent } from '../recent.ts'

/** Where v2 signing keys come from: a key id -> its public key, or undefined when Circle does not know the id. */
export interface PublicKeySource {
  get(keyId: string): Promise<KeyObject | undefined>
}

/** Circle could not be asked (network, 5xx): the notification can be neither accepted nor refused for good. */
export class KeyUnavailable extends Error {
  override name = 'KeyUnavailable'
}

const keyResponse = z.object({
  data: z.object({ id: z.string(), algorithm: z.literal('ECDSA_SHA_256'), publicKey: z.string().min(1) }),
})

/** Parses Circle's key encoding: base64 of the DER SubjectPublicKeyInfo of a P-256 key. */
export function parseCirclePublicKey(base64Der: string): KeyObject {
  const key = createPublicKey({ key: Buffer.from(base64Der, 'base64'), format: 'der', type: 'spki' })
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    throw new Error('Circle notification key is not an ECDSA P-256 key')
  }
  return key
}

/**
 * Circle's `GET /v2/notifications/publicKey/{id}` (the Core SDK has no call for it), cached:
 * a key for a given id never changes, so found keys stay (least recently used out past
 * `maxEntries`); ids Circle does not know are remembered for `negativeTtlMs`, so a stream of forged
 * ids costs one call each per TTL at most, and concurrent lookups of one id share one call.
 */
export class CirclePublicKeys implements PublicKeySource {
  private readonly found = new Map<string, KeyObject>()
  private readonly missing = new Map<string, number>()
  private readonly inFlight = new Map<string, Promise<KeyObject | undefined>>()
  private readonly options: { baseUrl: string; apiKey: string; timeoutMs: number; maxEntries: number; negativeTtlMs: number; fetch: typeof fetch }
  /** Calls made to Circle (tests and metrics). */
  fetches = 0

  constructor(options: { baseUrl: string; apiKey: string; timeoutMs?: number; maxEntries?: number; negativeTtlMs?: number; fetch?: typeof fetch }) {
    this.options = { timeoutMs: 5000, maxEntries: 100, negativeTtlMs: 60_000, fetch: globalThis.fetch, ...options }
  }

  async get(keyId: string): Promise<KeyObject | undefined> {
    const hit = this.found.get(keyId)
    if (hit) {
      this.found.delete(keyId)
      this.found.set(keyId, hit)
      return hit
    }
    const missingUntil = this.missing.get(keyId)
    if (missingUntil !== undefined) {
      if (missingUntil > Date.now()) return undefined
      this.missing.delete(keyId)
    }
    const pending = this.inFlight.get(keyId)
    if (pending) return pending
    const lookup = this.fetchKey(keyId).finally(() => this.inFlight.delete(keyId))
    this.inFlight.set(keyId, lookup)
    return lookup
  }

  private async fetchKey(keyId: string): Promise<KeyObject | undefined> {
    const { baseUrl, apiKey, timeoutMs } = this.options
    this.fetches++
    let res: Response
    try {
      res = await this.options.fetch(`${baseUrl.replace(/\/$/, '')}/v2/notifications/publicKey/${encodeURIComponent(keyId)}`, {
        headers: { authorization: `Bearer ${apiKey}`, accept: 'application/json' },
        signal: AbortSignal.timeout(timeoutMs),
      })
    } catch (err) {
      throw new KeyUnavailable(`could not reach Circle for notification key ${keyId}`, { cause: err })
    }
    if (res.status === 404 || res.status === 400) {
      await res.arrayBuffer().catch(() => undefined)
      this.remember(this.missing, keyId, Date.now() + this.options.negativeTtlMs)
      return undefined
    }
    if (!res.ok) {
      await res.arrayBuffer().catch(() => undefined)
      throw new KeyUnavailable(`Circle answered ${res.status} for notification key ${keyId}`)
    }
    const parsed = keyResponse.safeParse(await res.json().catch(() => undefined))
    if (!parsed.success) throw new KeyUnavailable(`Circle's answer for notification key ${keyId} is not a key`)
    const key = parseCirclePublicKey(parsed.data.data.publicKey)
    this.remember(this.found, keyId, key)
    return key
  }

  private remember<V>(map: Map<string, V>, keyId: string, value: V): void {
    setRecent(map, keyId, value, this.options.maxEntries)
  }
}
