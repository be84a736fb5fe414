import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import path from 'node:path'
import t from 'tap'
import { documentModels } from '../../src/projections/index.ts'

/**
 * The command side starts long streams from the document read models' rows (src/projections/snapshots.ts),
 * trusting that a row was folded by this code's `evolve` as long as the projection's version is
 * unchanged. A change to a stream's fold without a version bump would then decide from a stale state.
 * So each model's version is pinned here beside a hash of its stream's source and everything that
 * source imports: when the source changes, this fails until someone has asked whether the fold
 * changed. If it did, bump the model's version (a rebuild follows on the next start) and update the
 * pin; if not (a comment, a refactor), update the hash only.
 */
const pins: Record<string, { version: number; source: string; sha256: string }> = {
  wallets: { version: 1, source: 'src/events/wallet.ts', sha256: '281ab42a48206e6d097cedccbe89adeefcafe0f5e07dc314c77e37fe892f256c' },
  'bank-accounts': { version: 1, source: 'src/events/bank-account.ts', sha256: '12073e49b6fefb0c218b270c4e55a07846ac54c079393cae71a54e4f84100d52' },
  mints: { version: 1, source: 'src/events/mint.ts', sha256: 'eebd0665bc98ec67d4dceeb2d76854493344597c93b4b89a7cbc19b06919c7a7' },
  redeems: { version: 1, source: 'src/events/redeem.ts', sha256: '2d8ada400e22830f870f9336e703bf039f4cf1fa36d6ae18d15dc2898e7eebc8' },
  transfers: { version: 1, source: 'src/events/transfer.ts', sha256: '1013550c559728021a78212f7c19ac1cdce7edb97bd685af46fe99dc35f1ebde' },
  deposits: { version: 2, source: 'src/events/deposit.ts', sha256: 'a6636a2a2a2bd3a3db6dd7345721fae14b72bd02bd46052e448fe5f24111275e' },
  cards: { version: 1, source: 'src/events/card.ts', sha256: '873fbe90046976575806fe21e8f706b5932565f96919512565d2584238a57e28' },
}

const root = path.resolve(import.meta.dirname, '../..')

/**
 * Besides each stream's own module: how a row is built from the fold and read back (the upsert in
 * `document.ts`, the JSON and bigint round trip in `document-codec.ts`). A change there can change
 * every row, so it fails every pin. These two are hashed alone, not what they import (the statements'
 * helpers, pagination).
 */
const ROW_SOURCES = ['src/projections/document.ts', 'src/projections/document-codec.ts']

/**
 * The file and every file it imports or re-exports by a relative path for code (not `import type`
 * / `export type`), transitively, in path order.
 */
function sourcesOf(file: string, seen = new Set<string>()): string[] {
  if (seen.has(file)) return []
  seen.add(file)
  const text = readFileSync(path.join(root, file), 'utf8')
  const relative = /^(?:import|export) (?!type )[^'"]*? from ['"](\.{1,2}\/[^'"]+)['"]|\bimport\(\s*['"](\.{1,2}\/[^'"]+)['"]\s*\)|^import ['"](\.{1,2}\/[^'"]+)['"]/gm
  for (const m of text.matchAll(relative)) sourcesOf(path.posix.join(path.posix.dirname(file), (m[1] ?? m[2] ?? m[3])!), seen)
  return [...seen].sort()
}

/** Line endings normalised, so a checkout with CRLF gives the same hash. */
const hashOf = (files: string[]) => {
  const hash = createHash('sha256')
  for (const f of files) hash.update(`${f}\n`).update(readFileSync(path.join(root, f), 'utf8').replaceAll('\r\n', '\n'))
  return hash.digest('hex')
}

t.test('every document model\'s version is pinned to the source of its fold', async (t) => {
  t.same(Object.keys(pins).sort(), documentModels.map((m) => m.projection.name).sort(), 'one pin per document model')
  for (const model of documentModels) {
    const pin = pins[model.projection.name]
    if (!pin) continue
    const module = (await import(path.join(root, pin.source))) as Record<string, unknown>
    t.ok(Object.values(module).includes(model.type), `${model.projection.name}: ${pin.source} defines the stream type the model folds`)
    const files = [...new Set([...sourcesOf(pin.source), ...ROW_SOURCES])].sort()
    t.ok(files.length > 1, `${model.projection.name}: ${pin.source}, the row's code and what they import (${files.length} files)`)
    t.equal(model.projection.version, pin.version, `${model.projection.name}: the version pinned`)
    t.equal(
      hashOf(files),
      pin.sha256,
      `${model.projection.name}: ${files.join(', ')} changed. If the fold changed, bump the version of the ${model.projection.name} read model and update this pin (version and hash); otherwise update the hash only`,
    )
  }
})
