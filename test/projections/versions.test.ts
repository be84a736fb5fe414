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
  wallets: { version: 1, source: 'src/events/wallet.ts', sha256: '82d70231b959b405b834a61340fd228ff1505c2af5bc3ccc8d9e0e146039ae2b' },
  'bank-accounts': { version: 1, source: 'src/events/bank-account.ts', sha256: 'a9bd386efac3e0a266ebbf306f59f239b7e402e7483186757fcf5befc3ca0bfb' },
  mints: { version: 1, source: 'src/events/mint.ts', sha256: 'ce0043cd499be8ab90485d65558c33d5a3c8f18ab1e33e643327fe1cac6ec2e8' },
  redeems: { version: 1, source: 'src/events/redeem.ts', sha256: '2995cf61a984aa45f7b29193212dce344069aea1ce862f570620ffc28099f0ef' },
  transfers: { version: 1, source: 'src/events/transfer.ts', sha256: 'a0f4a740359d5cfc66a695fd1977a33f8d7639163c7c5ccd15d3c0c48894b34c' },
  deposits: { version: 1, source: 'src/events/deposit.ts', sha256: '3569b00eb14c246cb0c81089d0dc17edcd5357224d0e77be4e1d7f541d4cba3e' },
  cards: { version: 1, source: 'src/events/card.ts', sha256: '725aba436d27acf1acf05c49afbff8811e553d593f85d0b4560926cb12bc3488' },
}

const root = path.resolve(import.meta.dirname, '../..')

/** The file and every file it imports by a relative path for code (not `import type`), transitively, in path order. */
function sourcesOf(file: string, seen = new Set<string>()): string[] {
  if (seen.has(file)) return []
  seen.add(file)
  const text = readFileSync(path.join(root, file), 'utf8')
  for (const [, relative] of text.matchAll(/^import (?!type )[^;]*? from '(\.{1,2}\/[^']+)'/gm)) sourcesOf(path.posix.join(path.posix.dirname(file), relative!), seen)
  return [...seen].sort()
}

const hashOf = (files: string[]) => {
  const hash = createHash('sha256')
  for (const f of files) hash.update(`${f}\n`).update(readFileSync(path.join(root, f)))
  return hash.digest('hex')
}

t.test('every document model\'s version is pinned to the source of its fold', async (t) => {
  t.same(Object.keys(pins).sort(), documentModels.map((m) => m.projection.name).sort(), 'one pin per document model')
  for (const model of documentModels) {
    const pin = pins[model.projection.name]
    if (!pin) continue
    const files = sourcesOf(pin.source)
    t.ok(files.length > 1, `${model.projection.name}: ${pin.source} and what it imports (${files.length} files)`)
    t.equal(model.projection.version, pin.version, `${model.projection.name}: the version pinned`)
    t.equal(
      hashOf(files),
      pin.sha256,
      `${model.projection.name}: ${files.join(', ')} changed. If the fold changed, bump the version of the ${model.projection.name} read model and update this pin (version and hash); otherwise update the hash only`,
    )
  }
})
