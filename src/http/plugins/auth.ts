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

/** Bearer API keys with roles: 401 for a missing or unknown key, 403 for a role the route does not allow. */
export const authPlugin = fp<{ keys: ApiKey[]; publicPrefixes?: string[] }>(async (app, opts) => {
  const publicPrefixes = opts.publicPrefixes ?? []
  const byHash = new Map(opts.keys.map((k) => [k.sha256.toLowerCase(), { name: k.name, role: k.role }]))
  app.decorateRequest('principal', undefined)
  app.addHook('onRequest', async (request) => {
    const config = request.routeOptions.config
    const header = request.headers.authorization
    const match = typeof header === 'string' ? /^Bearer ([\x21-\x7e]{1,512})$/.exec(header) : null
    if (config.public || publicPrefixes.some((p) => request.routeOptions.url?.startsWith(p))) {
      // Open routes need no key; one that is sent must be valid, and identifies the caller (admins see /health details).
      if (header === undefined) return
      const principal = match ? byHash.get(sha256hex(match[1]!)) : undefined
      if (!principal) throw new HttpError(401, 'unauthorized', 'unknown API key: send a valid key, or none on this open route', { headers: { 'www-authenticate': 'Bearer' } })
      request.principal = principal
      return
    }
    if (!match) throw new HttpError(401, 'unauthorized', 'send Authorization: Bearer <api key>', { headers: { 'www-authenticate': 'Bearer' } })
    const principal = byHash.get(sha256hex(match[1]!))
    if (!principal) throw new HttpError(401, 'unauthorized', 'unknown API key', { headers: { 'www-authenticate': 'Bearer' } })
    request.principal = principal
    // An unknown route answers 404 to any valid key rather than a misleading 403.
    if (request.is404) return
    const allowed = config.roles ?? []
    if (principal.role !== 'admin' && !allowed.includes(principal.role)) {
      throw new HttpError(403, 'forbidden', `role ${principal.role} may not call ${request.method} ${request.routeOptions.url ?? request.url}`)
    }
  })
})
