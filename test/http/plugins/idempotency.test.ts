import t from 'tap'
import { sql } from 'kysely'
import pg from 'pg'
import { CircleError } from '../../../src/adapters/circle/port.ts'
import { PostgresEventStore } from '../../../src/adapters/event-store/postgres.ts'
import { execute } from '../../../src/commands/handler.ts'
import { recordMintOutcome } from '../../../src/commands/record-mint-outcome.ts'
import type { AppendOptions, StreamAppend } from '../../../src/events/event-store.ts'
import { purgeExpiredIdempotencyKeys } from '../../../src/http/plugins/idempotency.ts'
import { ReadModelsBehind, type WaitForReadModels } from '../../../src/subscriptions/read-your-writes.ts'
import { auth } from '../../helpers/app.ts'
import { meta } from '../../helpers/commands.ts'
import { testDatabase } from '../../helpers/database.ts'
import { httpHarness } from '../../helpers/http.ts'

t.test('a replay with the same body returns the original status and body, marked replayed', async (t) => {
  const { post, store } = await httpHarness(t)
  const first = await post('/wallets', { ownerId: 'o-1', description: 'd' }, { 'idempotency-key': 'wallet-key-1' })
  const events = (await store.readAll()).events.length
  const replay = await post('/wallets', { description: 'd', ownerId: 'o-1' }, { 'idempotency-key': 'wallet-key-1' })
  t.equal(replay.statusCode, first.statusCode)
  t.same(replay.json(), first.json(), 'same body, key order notwithstanding')
  t.equal(replay.headers['idempotent-replayed'], 'true')
  t.equal(replay.headers.location, first.headers.location)
  t.notOk(first.headers['idempotent-replayed'])
  t.equal((await store.readAll()).events.length, events, 'nothing new was written')
})

t.test('a business refusal is replayed too; the key is not reusable for another body', async (t) => {
  const { post } = await httpHarness(t)
  const body = { walletId: '00000000-0000-4000-8000-000000000000', amount: '1' }
  const first = await post('/mint', body, { 'idempotency-key': 'mint-key' })
  t.equal(first.statusCode, 422)
  const again = await post('/mint', body, { 'idempotency-key': 'mint-key' })
  t.equal(again.statusCode, 422)
  t.equal(again.headers['idempotent-replayed'], 'true')
  const other = await post('/mint', { ...body, amount: '2' }, { 'idempotency-key': 'mint-key' })
  t.equal(other.statusCode, 422)
  t.equal(other.json().error.code, 'idempotency_key_reused')
  const otherRoute = await post('/wallets', { ownerId: 'x' }, { 'idempotency-key': 'mint-key' })
  t.equal(otherRoute.json().error.code, 'idempotency_key_reused', 'a key belongs to one route')
})

t.test('a 400 is not stored, even one a handler decides: the corrected request may use the key', async (t) => {
  const { post, activeWallet } = await httpHarness(t)
  const walletId = await activeWallet()
  // Above MAX_AMOUNT: the route's own check, after the key is held, answers like schema validation.
  const tooMuch = await post('/mint', { walletId, amount: '1000000.01' }, { 'idempotency-key': 'fix-key' })
  t.equal(tooMuch.statusCode, 400)
  t.equal(tooMuch.json().error.code, 'validation_failed')
  const fixed = await post('/mint', { walletId, amount: '10' }, { 'idempotency-key': 'fix-key' })
  t.equal(fixed.statusCode, 202, fixed.body)
  t.notOk(fixed.headers['idempotent-replayed'])
  const replay = await post('/mint', { walletId, amount: '10' }, { 'idempotency-key': 'fix-key' })
  t.equal(replay.headers['idempotent-replayed'], 'true', 'the success is what the key holds')
  t.equal(replay.json().id, fixed.json().id)
})

t.test('keys are per API key: two callers may use the same key', async (t) => {
  const { post } = await httpHarness(t)
  const a = await post('/wallets', { ownerId: 'x' }, { 'idempotency-key': 'shared' })
  const b = await post('/wallets', { ownerId: 'x' }, { 'idempotency-key': 'shared', ...auth.admin })
  t.equal(b.statusCode, 202)
  t.not(b.json().id, a.json().id)
})

t.test('concurrent duplicates create exactly one operation', async (t) => {
  const { post, store, activeWallet } = await httpHarness(t)
  const walletId = await activeWallet()
  const results = await Promise.all(Array.from({ length: 10 }, () => post('/mint', { walletId, amount: '5' }, { 'idempotency-key': 'race-key' })))
  const statuses = results.map((r) => r.statusCode)
  t.ok(statuses.every((s) => s === 202 || s === 409), `every answer is 202 or 409 (${statuses.join(',')})`)
  t.ok(results.filter((r) => r.statusCode === 409).every((r) => r.json().error.code === 'idempotency_key_in_use'))
  const ids = new Set(results.filter((r) => r.statusCode === 202).map((r) => r.json().id))
  t.equal(ids.size, 1, 'every success names the same mint')
  const mints = await store.readAll({ filter: { types: ['MintRequested'] }, maxCount: 1000 })
  t.equal(mints.events.filter((e) => e.data.walletId === walletId).length, 1, 'exactly one mint was created')
})

t.test('a missing or malformed key is 400 and changes nothing', async (t) => {
  const { client, store } = await httpHarness(t)
  const missing = await client.call({ method: 'POST', url: '/wallets', payload: { ownerId: 'x' }, headers: auth.backend })
  t.equal(missing.statusCode, 400)
  t.equal(missing.json().error.code, 'validation_failed')
  const tooLong = await client.call({ method: 'POST', url: '/wallets', payload: { ownerId: 'x' }, headers: { ...auth.backend, 'idempotency-key': 'k'.repeat(256) } })
  t.equal(tooLong.statusCode, 400)
  const spaced = await client.call({ method: 'POST', url: '/wallets', payload: { ownerId: 'x' }, headers: { ...auth.backend, 'idempotency-key': 'has space' } })
  t.equal(spaced.statusCode, 400)
  t.equal(await store.head(), undefined)
})

t.test('an abandoned in-flight key can be retried; expired keys are purged', async (t) => {
  const { post, db } = await httpHarness(t)
  await db.insertInto('idempotency_keys').values({
    principal: 'dev-backend', key: 'stuck', request_hash: 'x', state: 'in_flight', response_status: null, response_body: null, response_headers: null,
    locked_until: new Date(Date.now() + 60_000), expires_at: new Date(Date.now() + 3_600_000),
  }).execute()
  t.equal((await post('/wallets', { ownerId: 'x' }, { 'idempotency-key': 'stuck' })).json().error.code, 'idempotency_key_reused', 'a different request hash')
  const first = await post('/wallets', { ownerId: 'x' }, { 'idempotency-key': 'crashed' })
  await sql`UPDATE idempotency_keys SET state = 'in_flight', locked_until = now() - interval '1 second' WHERE key = 'crashed'`.execute(db)
  const retried = await post('/wallets', { ownerId: 'x' }, { 'idempotency-key': 'crashed' })
  t.equal(retried.statusCode, 202)
  t.equal(retried.json().id, first.json().id, 'the retry names the same wallet (ids derive from the key)')
  await sql`UPDATE idempotency_keys SET expires_at = now() - interval '1 second' WHERE key = 'crashed'`.execute(db)
  const reused = await post('/wallets', { ownerId: 'someone-else' }, { 'idempotency-key': 'crashed' })
  t.equal(reused.statusCode, 202, 'an expired key may be used again')
  t.not(reused.json().id, first.json().id, 'and a new request under it creates a new wallet, not the old one')
  await sql`UPDATE idempotency_keys SET expires_at = now() - interval '1 second' WHERE key = 'crashed'`.execute(db)
  t.equal(await purgeExpiredIdempotencyKeys(db), 1)
})

t.test('the same request under a key that expired names the operation it made: no second one, and not marked replayed', async (t) => {
  const { post, db, store } = await httpHarness(t)
  const first = await post('/wallets', { ownerId: 'same' }, { 'idempotency-key': 'aged' })
  await sql`UPDATE idempotency_keys SET expires_at = now() - interval '1 second' WHERE key = 'aged'`.execute(db)
  const events = (await store.readAll()).events.length
  const again = await post('/wallets', { ownerId: 'same' }, { 'idempotency-key': 'aged' })
  t.ok([200, 202].includes(again.statusCode), `answered ${again.statusCode}`)
  t.equal(again.json().id, first.json().id, 'the wallet it made')
  t.notOk(again.headers['idempotent-replayed'])
  t.equal((await store.readAll()).events.length, events, 'nothing new was written')
})

/** A wire-account stand-in whose calls take as long (and fail) as each test says, in order. */
function slowWireAccounts(plan: { ms: number; fail?: boolean }[]) {
  const calls: string[] = []
  return {
    calls,
    async createWireAccount(request: { idempotencyKey: string }) {
      const step = plan[calls.length] ?? { ms: 0 }
      calls.push(request.idempotencyKey)
      await new Promise((r) => setTimeout(r, step.ms))
      if (step.fail) throw new CircleError('createBusinessWireAccount: timeout', { transient: true, code: 'ECONNABORTED' })
      return { id: `wire-${calls.length}`, status: 'pending' as const }
    },
  }
}

const bankAccount = {
  ownerId: 'owner-1',
  accountNumber: '12340010',
  routingNumber: '121000248',
  billingDetails: { name: 'Ada Lovelace', line1: '1 Main St', city: 'Boston', postalCode: '02201', country: 'US', district: 'MA' },
  bankAddress: { country: 'US' },
}

t.test('the lock outlives a handler slower than it: a second request with the key meanwhile is 409, Circle is called once', async (t) => {
  const circle = slowWireAccounts([{ ms: 4500 }])
  const { post } = await httpHarness(t, { circle, idempotencyLockSeconds: 2 })
  const first = post('/bank-accounts', bankAccount, { 'idempotency-key': 'slow-key' })
  await new Promise((r) => setTimeout(r, 3200))
  const second = await post('/bank-accounts', bankAccount, { 'idempotency-key': 'slow-key' })
  t.equal(second.statusCode, 409, 'the first request still holds its key, renewed past the 2 s lock')
  t.equal(second.json().error.code, 'idempotency_key_in_use')
  t.equal((await first).statusCode, 202)
  t.equal(circle.calls.length, 1, 'Circle was called by one request only')
  const replay = await post('/bank-accounts', bankAccount, { 'idempotency-key': 'slow-key' })
  t.equal(replay.headers['idempotent-replayed'], 'true')
})

t.test('a request whose lock passed to a retry neither deletes nor overwrites the retry’s row', async (t) => {
  // First: slow, then fails (503: its row would be dropped). Second: slower, succeeds.
  const circle = slowWireAccounts([{ ms: 1200, fail: true }, { ms: 2500 }])
  const { post, db } = await httpHarness(t, { circle, idempotencyLockSeconds: 30 })
  const first = post('/bank-accounts', bankAccount, { 'idempotency-key': 'fenced' })
  await new Promise((r) => setTimeout(r, 300))
  // As if the first request's process had stalled past its lock: a retry may take the key over.
  await sql`UPDATE idempotency_keys SET locked_until = now() - interval '1 second' WHERE key = 'fenced'`.execute(db)
  const second = post('/bank-accounts', bankAccount, { 'idempotency-key': 'fenced' })
  t.equal((await first).statusCode, 503, 'the first attempt ends with a retryable error')
  const row = await db.selectFrom('idempotency_keys').select(['state', 'lock_token']).where('key', '=', 'fenced').executeTakeFirst()
  t.equal(row?.state, 'in_flight', 'the retry’s in-flight row is still there')
  const third = await post('/bank-accounts', bankAccount, { 'idempotency-key': 'fenced' })
  t.equal(third.statusCode, 409, 'so a third request waits instead of running beside the second')
  t.equal((await second).statusCode, 202)
  const done = await db.selectFrom('idempotency_keys').select(['state', 'response_status']).where('key', '=', 'fenced').executeTakeFirstOrThrow()
  t.same(done, { state: 'done', response_status: 202 }, 'the retry stored its own answer')
  t.equal(circle.calls.length, 2)
})

t.test('on the PostgreSQL store a creating POST stores its answer in the transaction of its events', async (t) => {
  const { post, db } = await httpHarness(t)
  const first = await post('/wallets', { ownerId: 'one-commit' }, { 'idempotency-key': 'one-commit' })
  t.equal(first.statusCode, 202)
  const key = await sql<{ xmin: string; state: string; lock_token: string | null }>`SELECT xmin::text, state, lock_token FROM idempotency_keys WHERE key = 'one-commit'`.execute(db)
  const events = await sql<{ xmin: string }>`SELECT xmin::text FROM events WHERE stream = ${`wallet-${first.json().id}`}`.execute(db)
  t.same(key.rows.map((r) => [r.state, r.lock_token]), [['done', null]], 'the row went straight to done, never in flight')
  t.same(events.rows.map((r) => r.xmin), [key.rows[0]!.xmin], 'written by the same transaction as the event')
  const replay = await post('/wallets', { ownerId: 'one-commit' }, { 'idempotency-key': 'one-commit' })
  t.equal(replay.headers['idempotent-replayed'], 'true')
  t.same(replay.json(), first.json(), 'the stored answer is the one sent')
})

t.test('a retry answered from the key waits for the read models, as its first request did, with or without Prefer: wait: a GET after it finds the resource', async (t) => {
  // The read models as the routes see them: behind (a 503 after the wait) until the test says so.
  let behind = true
  const waits: string[] = []
  let caughtUp = async () => {}
  const readModels: WaitForReadModels = async (position) => {
    waits.push(position === undefined ? 'head' : 'position')
    if (behind) throw new ReadModelsBehind('read models behind')
    await caughtUp()
  }
  const { post, get, settle } = await httpHarness(t, { readModels })
  caughtUp = settle
  const first = await post('/wallets', { ownerId: 'o-rw' }, { 'idempotency-key': 'rw-key' })
  t.equal(first.statusCode, 503, 'the change is recorded, the read models are behind')
  t.equal(first.json().error.code, 'read_models_behind')

  const early = await post('/wallets', { ownerId: 'o-rw' }, { 'idempotency-key': 'rw-key' })
  t.equal(early.statusCode, 503, 'a retry while they are still behind is told so, not given the stored 202')
  t.same(waits, ['position', 'head'], 'it waited for them (everything written so far)')
  const waiting = await post('/wallets', { ownerId: 'o-rw' }, { 'idempotency-key': 'rw-key', prefer: 'wait=1' })
  t.equal(waiting.statusCode, 503, 'so does a retry with Prefer: wait (which looks the key up before the command)')
  t.same(waits, ['position', 'head', 'head'])

  behind = false
  const retry = await post('/wallets', { ownerId: 'o-rw' }, { 'idempotency-key': 'rw-key' })
  t.equal(retry.statusCode, 202)
  t.equal(retry.headers['idempotent-replayed'], 'true', 'the stored answer, once they caught up')
  t.equal((await get(retry.headers.location as string)).statusCode, 200)
})

t.test('one key for two different requests at once: one is created, the other refused, nothing else written', async (t) => {
  const { post, store } = await httpHarness(t)
  const answers = await Promise.all(['owner-a', 'owner-b', 'owner-c'].map((ownerId) => post('/wallets', { ownerId }, { 'idempotency-key': 'contested' })))
  const statuses = answers.map((a) => a.statusCode).sort()
  t.equal(statuses.filter((s) => s === 202).length, 1, `exactly one 202 (${statuses.join(',')})`)
  for (const refused of answers.filter((a) => a.statusCode !== 202)) {
    t.ok(['idempotency_key_reused', 'idempotency_key_in_use'].includes(refused.json().error.code), refused.json().error.code)
  }
  const created = await store.readAll({ filter: { types: ['WalletCreationRequested'] } })
  t.equal(created.events.length, 1, 'one wallet')
  const again = await post('/wallets', { ownerId: 'owner-z' }, { 'idempotency-key': 'contested' })
  t.equal(again.json().error.code, 'idempotency_key_reused', 'afterwards the key is the winner’s')
})

t.test('Prefer: wait keeps the in-flight row: its answer, after the wait, is the one stored', async (t) => {
  const { post, db } = await httpHarness(t)
  const first = await post('/wallets', { ownerId: 'waits' }, { 'idempotency-key': 'waits', prefer: 'wait=1' })
  const row = await db.selectFrom('idempotency_keys').select(['state', 'lock_token', 'response_status']).where('key', '=', 'waits').executeTakeFirstOrThrow()
  t.equal(row.state, 'done')
  t.ok(row.lock_token, 'taken in flight first, with a lock token')
  t.equal(row.response_status, first.statusCode)
})

t.test('a new key costs no statement before the command: the append claims it', async (t) => {
  const { post } = await httpHarness(t)
  const statements: string[] = []
  const query = pg.Client.prototype.query
  t.teardown(() => {
    pg.Client.prototype.query = query
  })
  pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
    const text = typeof args[0] === 'string' ? args[0] : (args[0] as { text?: string } | undefined)?.text
    if (text) statements.push(text)
    return (query as (...a: unknown[]) => unknown).apply(this, args)
  } as typeof query
  const created = await post('/wallets', { ownerId: 'no-read' }, { 'idempotency-key': 'no-read' })
  pg.Client.prototype.query = query
  t.equal(created.statusCode, 202)
  t.same(statements.filter((s) => /idempotency_keys/.test(s) && !/append_batch_answering/.test(s)), [], 'nothing but the append touched the key')
})

t.test('a refusal stays the key’s answer: the same request, which would now succeed, is answered from the key and writes nothing', async (t) => {
  const { post, store, activeWallet, settle } = await httpHarness(t)
  const source = await activeWallet('poor')
  const destination = await activeWallet('rich', '5')
  const body = { sourceWalletId: source, destination: { type: 'wallet', walletId: destination }, amount: '3' }
  const first = await post('/transfers', body, { 'idempotency-key': 'refused-first' })
  t.equal(first.statusCode, 422)
  t.equal(first.json().error.code, 'insufficient_funds')
  const mint = (await post('/mint', { walletId: source, amount: '10' })).json()
  await execute(store, recordMintOutcome, { mintId: mint.id, outcome: { type: 'completed', circleTransferId: `ct-${mint.id}` } }, meta({ actor: 'process-manager' }))
  await settle()
  const events = (await store.readAll({ maxCount: 10_000 })).events.length
  const again = await post('/transfers', body, { 'idempotency-key': 'refused-first' })
  t.equal(again.statusCode, 422)
  t.equal(again.headers['idempotent-replayed'], 'true')
  t.same(again.json(), first.json())
  t.equal((await store.readAll({ maxCount: 10_000 })).events.length, events, 'the transfer the command decided was not written')
  const other = await post('/transfers', { ...body, amount: '1' }, { 'idempotency-key': 'refused-first' })
  t.equal(other.statusCode, 422)
  t.equal(other.json().error.code, 'idempotency_key_reused', 'another request under the key: reused, though it would succeed')
  t.equal((await store.readAll({ maxCount: 10_000 })).events.length, events, 'nor that one')
})

t.test('a request holding its key in flight whose lock a retry took over before its append writes nothing, and is told so', async (t) => {
  const database = await testDatabase(t)
  const inner = new PostgresEventStore(database.pool, { pollIntervalMs: 100 })
  // Just before the first fenced append: what a retry does on finding the lock lapsed (the first request's process stalled).
  let takeOver: (() => Promise<unknown>) | undefined = () =>
    sql`UPDATE idempotency_keys SET lock_token = gen_random_uuid(), locked_until = now() + interval '1 minute' WHERE key = 'taken-over'`.execute(database.db)
  const store = new Proxy(inner, {
    get(target, prop) {
      if (prop === 'appendMulti') {
        return async (appends: StreamAppend[], options: AppendOptions = {}) => {
          const hook = options.lock ? takeOver : undefined
          if (hook) {
            takeOver = undefined
            await hook()
          }
          return target.appendMulti(appends, options)
        }
      }
      const value = Reflect.get(target, prop, target) as unknown
      return typeof value === 'function' ? value.bind(target) : value
    },
  })
  const { post } = await httpHarness(t, { store }, database)
  const first = await post('/wallets', { ownerId: 'stalled' }, { 'idempotency-key': 'taken-over', prefer: 'wait=1' })
  t.equal(first.statusCode, 409)
  t.equal(first.json().error.code, 'idempotency_key_in_use')
  t.equal(takeOver, undefined, 'the append was fenced by the key lock')
  t.equal((await inner.readAll({ filter: { types: ['WalletCreationRequested'] } })).events.length, 0, 'no wallet was written')
  const row = await database.db.selectFrom('idempotency_keys').select(['state', 'lock_token']).where('key', '=', 'taken-over').executeTakeFirstOrThrow()
  t.equal(row.state, 'in_flight', 'the retry’s row is left as it is, for the retry to finish')
  const other = await post('/wallets', { ownerId: 'waits' }, { 'idempotency-key': 'not-taken', prefer: 'wait=1' })
  t.equal(other.statusCode, 202, 'a request keeping its lock is written as before')
})
