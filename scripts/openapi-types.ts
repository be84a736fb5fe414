/**
 * Writes the OpenAPI document the service serves and the TypeScript types openapi-typescript
 * generates from it (examples/client/openapi.ts), the way backendMirror generates its client.
 * `npm run openapi:types` after changing an HTTP schema; a test fails while the committed types
 * differ from the document, and the type check fails wherever the typed quick-start client no
 * longer fits the API.
 */
import { execFile } from 'node:child_process'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import path from 'node:path'
import pino from 'pino'
import { HttpCardIssuer } from '../src/adapters/card-issuer/http.ts'
import { MemoryEventStore } from '../src/adapters/event-store/memory.ts'
import { createDb, createPool } from '../src/adapters/postgres/database.ts'
import { parseAmount } from '../src/events/money.ts'
import { buildApp } from '../src/http/app.ts'
import { developmentApiKeys } from '../src/http/plugins/auth.ts'
import { Metrics } from '../src/metrics.ts'

export const typesFile = path.resolve(import.meta.dirname, '../examples/client/openapi.ts')

/** The document as `GET /openapi.json` serves it; building it touches no database. */
export async function openapiDocument(): Promise<string> {
  const pool = createPool('postgres://unused@127.0.0.1:1/unused', 1)
  const app = await buildApp({
    logger: pino({ level: 'silent' }),
    health: {},
    store: new MemoryEventStore(),
    db: createDb(pool),
    metrics: new Metrics(),
    readModels: () => Promise.reject(new Error('not for documents')),
    circle: { createWireAccount: () => Promise.reject(new Error('not for documents')) },
    issuer: new HttpCardIssuer({ baseUrl: 'http://127.0.0.1:1', apiKey: 'unused', timeoutMs: 1 }),
    apiKeys: developmentApiKeys(),
    maxAmount: parseAmount('1000000'),
    idempotencyTtlHours: 24,
    rateLimit: { max: 600, windowMs: 60_000 },
  })
  try {
    return (await app.inject({ method: 'GET', url: '/openapi.json' })).body
  } finally {
    await app.close()
    await pool.end()
  }
}

/** openapi-typescript's output for the current document (its CLI, from the tools/openapi-types workspace). */
export async function generateTypes(): Promise<string> {
  const require = createRequire(path.resolve(import.meta.dirname, '../tools/openapi-types/package.json'))
  const cli = path.join(path.dirname(require.resolve('openapi-typescript/package.json')), 'bin/cli.js')
  const dir = await mkdtemp(path.join(tmpdir(), 'openapi-types-'))
  try {
    await writeFile(path.join(dir, 'openapi.json'), await openapiDocument())
    await new Promise<void>((resolve, reject) =>
      execFile(process.execPath, [cli, 'openapi.json', '--output', 'openapi.ts'], { cwd: dir }, (err, _stdout, stderr) => (err ? reject(new Error(`openapi-typescript failed: ${stderr}`)) : resolve())),
    )
    return await readFile(path.join(dir, 'openapi.ts'), 'utf8')
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

if (import.meta.main) {
  await writeFile(typesFile, await generateTypes())
  process.stdout.write(`wrote ${path.relative(process.cwd(), typesFile)}\n`)
}
