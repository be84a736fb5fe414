import { createHash } from 'node:crypto'
import fp from 'fastify-plugin'
import { HttpError } from '../errors.ts'

export type Role = 'backend' | 'auditor' | 'admin'
export interface ApiKey {
  name: string
  role: Role
  /** Hex SHA-256 of the key; the key itself is never configured or stored. */
  sha256: string
}
export interface Principal {
  name: string
  role: Role
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Open to anyone (health, docs). */
    public?: boolean
    /** Roles allowed besides admin, which may call everything. */
    roles?: Role[]
  }
  interface FastifyRequest {
    principal?: Principal
  }
}

/** Documented development keys, accepted only outside production when API_KEYS is unset. */
export const DEVELOPMENT_KEYS: { key: string; name: string; role: Role }[] = [
  { key: 'dev-backend-key', name: 'dev-backend', role: 'backend' },
  { key: 'dev-auditor-key', name: 'dev-auditor', role: 'auditor' },
  { key: 'dev-admin-key', name: 'dev-admin', role: 'admin' },
]

export const sha256hex = (s: string) => createHash('sha256').update(s).digest('hex')

export const developmentApiKeys = (): ApiKey[] => DEVELOPMENT_KEYS.map(({ key, name, role }) => ({ name, role, sha256: sha256hex(key) }))

export interface AuthOptions {
  keys: ApiKey[]
  publicPrefixes?: string[]
  /** Requests without a valid key allowed per source address and window, checked before any key is looked at. */
  unauthenticated?: { max: number; windowMs: number }
}

/** Failed authentications per source address in fixed windows; bounded so a spray of addresses cannot grow it without end. */
class FailureWindows {
  private readonly windows = new Map<string, { count: number; resetAt: number }>()
  private readonly max: number
  private readonly windowMs: number
  constructor(options: { max: number; windowMs: number }) {
    this.max = options.max
    this.windowMs = options.windowMs
  }
  /** Seconds until the address may try again, or 0 when it may now. */
  blockedFor(address: string, now = Date.now()): number {
    const w = this.windows.get(address)
    if (!w || w.resetAt <= now || w.count < this.max) return 0
    return Math.ceil((w.resetAt - now) / 1000)
  }
  fail(address: string, now = Date.now()): void {
    const w = this.windows.get(address)
    if (w && w.resetAt > now) {
      w.count++
      return
    }
    if (this.windows.size >= 100_000) {
      for (const [k, v] of this.windows) if (v.resetAt <= now) this.windows.delete(k)
      // Still full: forget the oldest windows (Map keeps insertion order).
      for (const k of this.windows.keys()) {
        if (this.windows.size < 100_000) break
        this.windows.delete(k)
      }
    }
    this.windows.set(address, { count: 1, resetAt: now + this.windowMs })
  }
}

/**
 * Bearer API keys with roles: 401 for a missing or unknown key, 403 for a role the route does not
 * allow. A source address that keeps failing authentication gets 429 before its keys are even
 * hashed, so guessing keys costs the guesser, not the service.
 */
export const authPlugin = fp<AuthOptions>(async (app, opts) => {
  const publicPrefixes = opts.publicPrefixes ?? []
  const byHash = new Map(opts.keys.map((k) => [k.sha256.toLowerCase(), { name: k.name, role: k.role }]))
  const failures = new FailureWindows(opts.unauthenticated ?? { max: 60, windowMs: 60_000 })
  app.decorateRequest('principal', undefined)
  app.addHook('onRequest', async (request) => {
    const config = request.routeOptions.config
    const header = request.headers.authorization
    const apiKey = typeof header === 'string' ? /^Bearer ([\x21-\x7e]{1,512})$/.exec(header)?.[1] : undefined
    const wait = failures.blockedFor(request.ip)
    const unauthorized = (message: string) => {
      failures.fail(request.ip)
      return new HttpError(401, 'unauthorized', message, { headers: { 'www-authenticate': 'Bearer' } })
    }
    if (config.public || publicPrefixes.some((p) => request.routeOptions.url?.startsWith(p))) {
      // Open routes need no key; one that is sent must be valid, and identifies the caller (auditors and admins see /health details).
      if (header === undefined) return
      const principal = apiKey !== undefined ? byHash.get(sha256hex(apiKey)) : undefined
      if (!principal) {
        if (wait > 0) throw new HttpError(429, 'rate_limited', `too many requests without a valid API key from this address; retry in ${wait} s`, { headers: { 'retry-after': String(wait) } })
        throw unauthorized('unknown API key: send a valid key, or none on this open route')
      }
      request.principal = principal
      return
    }
    if (wait > 0) {
      throw new HttpError(429, 'rate_limited', `too many requests without a valid API key from this address; retry in ${wait} s`, { headers: { 'retry-after': String(wait) } })
    }
    if (apiKey === undefined) throw unauthorized('send Authorization: Bearer <api key>')
    const principal = byHash.get(sha256hex(apiKey))
    if (!principal) throw unauthorized('unknown API key')
    request.principal = principal
    // An unknown route answers 404 to any valid key rather than a misleading 403.
    if (request.is404) return
    const allowed = config.roles ?? []
    if (principal.role !== 'admin' && !allowed.includes(principal.role)) {
      throw new HttpError(403, 'forbidden', `role ${principal.role} may not call ${request.method} ${request.routeOptions.url ?? request.url}`)
    }
  })
})
