import { createHash } from 'node:crypto'
import { randomUUID } from 'node:crypto'
import t from 'tap'
import { execute } from '../../../src/commands/handler.ts'
import { recordTransferOutcome } from '../../../src/commands/record-transfer-outcome.ts'
import { auditHead } from '../../../src/ledger/audit.ts'
import { auth } from '../../helpers/app.ts'
import { meta } from '../../helpers/commands.ts'
import { httpHarness } from '../../helpers/http.ts'
import { runLedger } from '../../helpers/ledger.ts'
import { changeAuditHash, changeOneByteOfEvent, deleteAuditRow } from '../../helpers/tamper.ts'

async function audited(t: Parameters<typeof httpHarness>[0]) {
  const h = await httpHarness(t)
  const ledger = runLedger(t, h.store, h.db, { readModels: h.projections })
  const a = await h.activeWallet('a', '100')
  const b = await h.activeWallet('b')
  const transfer = (await h.post('/transfers', { sourceWalletId: a, destination: { type: 'wallet', walletId: b }, amount: '25' })).json()
  await execute(h.store, recordTransferOutcome, { transferId: transfer.id, outcome: { type: 'completed', circleTransferId: `ct-${randomUUID()}` } }, meta({ actor: 'process-manager' }))
  await ledger.settle()
  return { ...h, a, b, transfer, settleLedger: ledger.settle }
}

t.test('the audit routes answer auditors and admins, and refuse backend keys', async (t) => {
  const { get, a } = await audited(t)
  const urls = ['/audit/events', `/audit/streams/wallet-${a}`, '/audit/verify', '/audit/head', '/journal/entries', '/journal/trial-balance', `/journal/accounts/wallet:${a}:available`]
  for (const url of urls) {
    t.equal((await get(url, auth.backend)).statusCode, 403, `backend: 403 on ${url}`)
    t.equal((await get(url, auth.auditor)).statusCode, 200, `auditor: 200 on ${url}`)
    t.equal((await get(url, auth.admin)).statusCode, 200, `admin: 200 on ${url}`)
  }
  t.equal((await get('/audit/head', {})).statusCode, 401, 'no key: 401')
})

t.test('GET /audit/events pages the log in position order, each event with its chain link', async (t) => {
  const { get, store } = await audited(t)
  const head = (await store.head())!
  const first = (await get('/audit/events?limit=3', auth.auditor)).json()
  t.same(first.events.map((e: { position: string }) => e.position), ['1', '2', '3'])
  t.equal(first.next, '3')
  t.equal(first.events[0].prevHash, '0'.repeat(64), 'the first event links to the genesis hash')
  t.equal(first.events[1].prevHash, first.events[0].hash, 'each event links to the one before')
  const rest = (await get(`/audit/events?after=${first.next}&limit=1000`, auth.auditor)).json()
  t.equal(rest.events.at(-1).position, head)
  t.equal(rest.next, null, 'the last page says so')
  t.equal((await get('/audit/events?after=abc', auth.auditor)).statusCode, 400, 'a malformed position is 400')
})

t.test('a position or revision beyond what the store holds, or of another store, is 400 and reads nothing', async (t) => {
  const { app, get, store } = await audited(t)
  t.equal(store.kind, 'postgres')
  const refused = (body: { error: { code: string; details: { field: string }[] } }) => [body.error.code, body.error.details.map((d) => d.field)]
  for (const after of ['99999999999999999999', '9223372036854775808', '1/2']) {
    const res = await get(`/audit/events?after=${after}`, auth.auditor)
    t.equal(res.statusCode, 400, `after=${after}`)
    t.same(refused(res.json()), ['validation_failed', ['query.after']])
    // As NDJSON too: refused before the stream starts, not cut off in the middle of it.
    const ndjson = await app.inject({ method: 'GET', url: `/audit/events?after=${after}`, headers: { ...auth.auditor, accept: 'application/x-ndjson' } })
    t.equal(ndjson.statusCode, 400, `NDJSON after=${after}`)
  }
  t.equal((await get('/audit/events?after=9223372036854775807', auth.auditor)).json().events.length, 0, 'the largest position is a position: nothing after it')
  const revision = await get('/audit/streams/wallet-x?fromRevision=3000000000', auth.auditor)
  t.equal(revision.statusCode, 400)
  t.same(refused(revision.json()), ['validation_failed', ['query.fromRevision']])
})

t.test('GET /audit/events as NDJSON streams every event; an outsider recomputes the head from it', async (t) => {
  const { app, db, store } = await audited(t)
  const res = await app.inject({ method: 'GET', url: '/audit/events', headers: { ...auth.auditor, accept: 'application/x-ndjson' } })
  t.equal(res.statusCode, 200)
  t.match(res.headers['content-type'], /application\/x-ndjson/)
  const lines = res.body.trimEnd().split('\n').map((l) => JSON.parse(l))
  t.equal(lines.length, store.distance(undefined, await store.head()))
  // The README's recipe, written independently of the service's code.
  const sortKeys = (v: unknown): unknown =>
    Array.isArray(v) ? v.map(sortKeys) : v && typeof v === 'object' ? Object.fromEntries(Object.entries(v).sort(([x], [y]) => (x < y ? -1 : 1)).map(([k, x]) => [k, sortKeys(x)])) : v
  let prev = '0'.repeat(64)
  for (const { hash, prevHash, ...event } of lines) {
    t.equal(prevHash, prev)
    prev = createHash('sha256').update(prev + JSON.stringify(sortKeys(event))).digest('hex')
    if (prev !== hash) return t.fail(`recomputed hash differs at ${event.position}`)
  }
  t.equal(prev, (await auditHead(db))!.hash, 'the recomputed chain ends at the published head')
  const some = await app.inject({ method: 'GET', url: '/audit/events?after=2&limit=3', headers: { ...auth.auditor, accept: 'application/x-ndjson' } })
  t.same(some.body.trimEnd().split('\n').map((l) => JSON.parse(l).position), ['3', '4', '5'], 'after and limit bound the stream')
})

t.test('GET /audit/streams/{stream} gives one stream in revision order', async (t) => {
  const { get, a } = await audited(t)
  const res = (await get(`/audit/streams/wallet-${a}?limit=2`, auth.auditor)).json()
  t.same(res.events.map((e: { revision: number }) => e.revision), [0, 1])
  t.equal(res.nextRevision, 2)
  const next = (await get(`/audit/streams/wallet-${a}?fromRevision=2`, auth.auditor)).json()
  t.same(next.events.map((e: { type: string }) => e.type), ['FundsCredited', 'FundsReserved', 'FundsDebited'])
  t.equal(next.nextRevision, null)
  // Numbers in the query are digits: not 10 read from 1e1, nor 16 from 0x10.
  t.same((await get(`/audit/streams/wallet-${a}?fromRevision=1e1`, auth.auditor)).json().error.details, [{ field: 'query.fromRevision', message: 'fromRevision must be a whole number written in decimal digits, such as 0' }])
  t.equal((await get(`/audit/streams/wallet-${a}?fromRevision=02`, auth.auditor)).json().events[0].revision, 2)
  t.same((await get('/audit/events?limit=0x10', auth.auditor)).json().error.details, [{ field: 'query.limit', message: 'limit must be a whole number written in decimal digits, such as 50' }])
  t.equal((await get('/audit/streams/wallet-nope', auth.auditor)).statusCode, 404)
  t.equal((await get('/audit/streams/bad%20name', auth.auditor)).statusCode, 400)
})

t.test('GET /audit/verify verifies an untouched log and names the exact position of each kind of tampering', async (t) => {
  const { get, store, pool, db } = await audited(t)
  const head = (await store.head())!
  const total = store.distance(undefined, head)!
  const clean = (await get('/audit/verify', auth.auditor)).json()
  t.match(clean, { ok: true, verified: total, position: head, message: `verified ${total} events up to position ${head}` })
  t.same((await get('/audit/head', auth.auditor)).json(), { ...(await auditHead(db)) })
  t.equal((await get('/audit/head', auth.auditor)).json().position, head)

  const { rows } = await pool.query<{ position: string }>(`SELECT position::text FROM events WHERE type = 'TransferRequested'`)
  const target = rows[0]!.position
  const changed = await changeOneByteOfEvent(pool, target)
  const broken = (await get('/audit/verify', auth.auditor)).json()
  t.match(broken, { ok: false, break: { position: target, kind: 'data_changed' } }, 'one changed byte of a stored event')
  t.match(broken.message, new RegExp(`position ${target}.*data\\.amount`))
  await changed.restore()

  const putBack = await deleteAuditRow(pool, '4')
  t.match((await get('/audit/verify', auth.auditor)).json(), { ok: false, break: { position: '4', kind: 'row_missing' } }, 'a deleted audit row')
  await putBack()
  const restore = await changeAuditHash(pool, '6')
  t.match((await get('/audit/verify', auth.auditor)).json(), { ok: false, break: { position: '6', kind: 'hash_mismatch' } }, 'a changed audit hash')
  t.match((await get('/audit/verify?to=5', auth.auditor)).json(), { ok: true, verified: 5, position: '5' }, 'a range before the break verifies')
  await restore()
  t.match((await get('/audit/verify?from=3&to=6', auth.auditor)).json(), { ok: true, verified: 4, position: '6' })
  t.equal((await get('/audit/verify?from=x', auth.auditor)).statusCode, 400)
  t.equal((await get('/audit/verify?from=6&to=3', auth.auditor)).json().error.code, 'invalid_range')
})

t.test('the NDJSON stream reads the log one page at a time, only as the client consumes it', async (t) => {
  const { MemoryEventStore } = await import('../../../src/adapters/event-store/memory.ts')
  const { ndjsonEvents } = await import('../../../src/http/routes/audit.ts')
  const { testDatabase } = await import('../../helpers/database.ts')
  const { db } = await testDatabase(t)
  const inner = new MemoryEventStore()
  const metadata = { correlationId: 'c', causationId: 'c', actor: 'test', occurredAt: new Date().toISOString() }
  for (let i = 0; i < 5; i++) {
    await inner.append(`s-${i}`, Array.from({ length: 500 }, () => ({ id: randomUUID(), type: 'Noted', data: { i }, metadata })), { expected: 'no_stream' })
  }
  const reads: number[] = []
  const store = Object.assign(Object.create(inner) as typeof inner, {
    readAll: async (options: Parameters<typeof inner.readAll>[0]) => {
      reads.push(options?.maxCount ?? Infinity)
      return inner.readAll(options)
    },
  })
  const stream = ndjsonEvents(store, db, undefined, undefined)
  const first = await stream.next()
  t.equal((first.value as string).split('\n').length - 1, 1000, 'the first chunk is one page')
  t.same(reads, [1000], 'and only that page has been read')
  let lines = 1000
  for await (const chunk of stream) lines += chunk.split('\n').length - 1
  t.equal(lines, 2500)
  t.ok(reads.every((n) => n <= 1000), `pages of at most 1000 (${reads.length} reads)`)
})
