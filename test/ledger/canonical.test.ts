import { createHash } from 'node:crypto'
import t from 'tap'
import { canonicalJson } from '../../src/events/canonical-json.ts'
import { canonicalEvent, chainHash, GENESIS_HASH } from '../../src/ledger/canonical.ts'

const event = {
  position: '7',
  stream: 'mint-1b2f',
  revision: 0,
  id: '6f1c1b0e-8d43-4c1e-9d55-2f7d3c1a9e10',
  type: 'MintRequested',
  data: { walletId: 'w-1', mintId: '1b2f', amount: '10500000', note: 'ünï "q"\n' },
  metadata: { correlationId: '1b2f', causationId: 'c-1', actor: 'dev-backend', requestId: 'r-1', occurredAt: '2026-11-26T09:00:00.000Z' },
  recordedAt: '2026-11-26T09:00:00.123Z',
}

t.test('the canonical form is sorted-key JSON without whitespace', async (t) => {
  t.equal(canonicalJson({ b: 1, a: [true, null, { d: 'x', c: 2.5 }] }), '{"a":[true,null,{"c":2.5,"d":"x"}],"b":1}')
  t.equal(
    canonicalEvent(event),
    '{"data":{"amount":"10500000","mintId":"1b2f","note":"ünï \\"q\\"\\n","walletId":"w-1"},"id":"6f1c1b0e-8d43-4c1e-9d55-2f7d3c1a9e10",' +
      '"metadata":{"actor":"dev-backend","causationId":"c-1","correlationId":"1b2f","occurredAt":"2026-11-26T09:00:00.000Z","requestId":"r-1"},' +
      '"position":"7","recordedAt":"2026-11-26T09:00:00.123Z","revision":0,"stream":"mint-1b2f","type":"MintRequested"}',
  )
})

t.test('an outsider recomputes the same chain with a few lines of their own', async (t) => {
  // What the README tells an auditor to write: sort keys recursively, JSON.stringify, sha256(prev + json).
  const sortKeys = (v: unknown): unknown =>
    Array.isArray(v) ? v.map(sortKeys) : v && typeof v === 'object' ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, x]) => [k, sortKeys(x)])) : v
  const theirs = (prev: string, e: typeof event) => {
    const { position, stream, revision, id, type, data, metadata, recordedAt } = e
    return createHash('sha256').update(prev + JSON.stringify(sortKeys({ position, stream, revision, id, type, data, metadata, recordedAt }))).digest('hex')
  }
  const first = chainHash(GENESIS_HASH, canonicalEvent(event))
  t.equal(first, theirs('0'.repeat(64), event))
  const second = { ...event, position: '8', revision: 1 }
  t.equal(chainHash(first, canonicalEvent(second)), theirs(first, second))
  // The README's test vector; Python's json.dumps(e, sort_keys=True, separators=(',', ':'), ensure_ascii=False) gives the same.
  t.equal(first, 'f6e88da832e3071207f74231cc08f8f772badb6a27df006b472cc1714b2f0acb')
})
