import { randomUUID } from 'node:crypto'
import { once } from 'node:events'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import t from 'tap'
import { createCircleSimulator } from '../../../../src/adapters/circle/simulator/simulator.ts'
import { postgresState, type PageQuery } from '../../../../src/adapters/circle/simulator/state.ts'
import { until } from '../../../helpers/circle.ts'
import { testDatabase } from '../../../helpers/database.ts'

const auth = { authorization: 'Bearer SIM_KEY' }

t.test('a simulator on PostgreSQL continues after a restart: ids never repeat, balances and pending work survive', async (t) => {
  const { url } = await testDatabase(t)
  const first = await createCircleSimulator({ settleMs: 100, treasury: '500.00', state: await postgresState(url) })
  const wallet = async (sim: typeof first) => (await sim.app.inject({ method: 'POST', url: '/v1/wallets', headers: auth, payload: { idempotencyKey: randomUUID() } })).json().data.walletId as string
  const before = [await wallet(first), await wallet(first)]
  const funded = before[0]!
  const mintKey = randomUUID()
  const mint = { idempotencyKey: mintKey, source: { type: 'wallet', id: first.masterWalletId }, destination: { type: 'wallet', id: funded }, amount: { amount: '25.00', currency: 'USD' } }
  const transfer = (await first.app.inject({ method: 'POST', url: '/v1/transfers', headers: auth, payload: mint })).json().data
  t.equal(transfer.status, 'pending')
  // Stopped before the transfer settles: its settlement is in the state, not in a timer of this process.
  await first.close()

  const second = await createCircleSimulator({ settleMs: 100, treasury: '999.00', state: await postgresState(url), sweepMs: 50 })
  t.teardown(() => second.close())
  const after = [await wallet(second), await wallet(second), await wallet(second)]
  t.equal(new Set([...before, ...after]).size, 5, 'no wallet id is handed out twice across the restart')
  const replay = await second.app.inject({ method: 'POST', url: '/v1/transfers', headers: auth, payload: mint })
  t.equal(replay.json().data.id, transfer.id, 'an idempotency key from before the restart still answers the original transfer')
  await until(async () => (await second.app.inject({ method: 'GET', url: `/v1/transfers/${transfer.id}`, headers: auth })).json().data.status === 'complete', 5000, 'transfer settled after restart')
  t.equal(await second.balanceOf(funded), 25_000_000n, 'the restarted simulator settled the pending transfer')
  t.equal(await second.balanceOf(second.masterWalletId), 475_000_000n, 'the treasury is not reset by a restart')
  t.equal((await second.creations()).filter((c) => c.kind === 'transfer').length, 1)
})

t.test('two simulators on one database act as one Circle', async (t) => {
  const { url } = await testDatabase(t)
  const a = await createCircleSimulator({ settleMs: 50, state: await postgresState(url) })
  const b = await createCircleSimulator({ settleMs: 50, state: await postgresState(url) })
  t.teardown(async () => {
    await a.close()
    await b.close()
  })
  const key = randomUUID()
  const [x, y] = await Promise.all([a, b].map((sim) => sim.app.inject({ method: 'POST', url: '/v1/wallets', headers: auth, payload: { idempotencyKey: key } })))
  t.equal(x!.json().data.walletId, y!.json().data.walletId, 'one key at two simulators makes one wallet')
  const ids = await Promise.all(Array.from({ length: 20 }, (_, i) => [a, b][i % 2]!.app.inject({ method: 'POST', url: '/v1/wallets', headers: auth, payload: { idempotencyKey: randomUUID() } }).then((r) => r.json().data.walletId as string)))
  t.equal(new Set(ids).size, 20, 'wallets created at both are all distinct')
  const seen = await b.app.inject({ method: 'GET', url: `/v1/wallets/${ids[0]}`, headers: auth })
  t.equal(seen.statusCode, 200, 'a wallet created at one is read at the other')
  const deposit = await a.app.inject({ method: 'POST', url: '/sim/deposits', headers: a.controlHeaders, payload: { walletId: ids[2], amount: '3.00' } })
  t.equal(deposit.statusCode, 201)
  t.same((await b.app.inject({ method: 'GET', url: `/v1/transfers?walletId=${ids[2]}`, headers: auth })).json().data.map((d: { id: string }) => d.id), [deposit.json().data.id])
  await until(async () => (await b.balanceOf(ids[2]!)) === 3_000_000n, 5000, 'deposit credited')
  t.pass('the deposit made at one settles and is seen at the other')
})

t.test('webhook subscriptions and the signing key survive a restart; subscribing the same URL again is the same subscription', async (t) => {
  const { url } = await testDatabase(t)
  const got: { keyId: string; type: string }[] = []
  const hook = createServer((req, res) => {
    let body = ''
    req.on('data', (c: Buffer) => (body += c))
    req.on('end', () => {
      got.push({ keyId: String(req.headers['x-circle-key-id']), type: (JSON.parse(body) as { notificationType: string }).notificationType })
      res.end('ok')
    })
  })
  hook.listen(0, '127.0.0.1')
  await once(hook, 'listening')
  t.teardown(() => hook.close())
  const hookUrl = `http://127.0.0.1:${(hook.address() as AddressInfo).port}/webhook`
  const subscribe = async (sim: Awaited<ReturnType<typeof createCircleSimulator>>) =>
    (await sim.app.inject({ method: 'POST', url: '/sim/webhooks', headers: sim.controlHeaders, payload: { url: hookUrl, version: 'v2' } })).json().id as string

  const first = await createCircleSimulator({ settleMs: 20, state: await postgresState(url) })
  const id = await subscribe(first)
  t.equal(await subscribe(first), id, 'the same URL and version again is the same subscription')
  const keyId = first.webhooks.keyId
  await first.close()

  const second = await createCircleSimulator({ settleMs: 20, state: await postgresState(url) })
  t.teardown(() => second.close())
  t.equal(await subscribe(second), id, 'still one subscription after the restart')
  t.equal(second.webhooks.keyId, keyId, 'the same signing key')
  await second.app.inject({ method: 'POST', url: '/v1/wallets', headers: auth, payload: { idempotencyKey: randomUUID() } })
  const walletId = (await second.creations())[0]!.id
  await second.app.inject({ method: 'POST', url: '/sim/deposits', headers: second.controlHeaders, payload: { walletId, amount: '1' } })
  await until(async () => got.length >= 2, 5000, 'deposit notifications')
  await second.webhooks.drain()
  t.equal(got.length, 2, 'pending and complete, delivered once each')
  t.ok(got.every((g) => g.keyId === keyId && g.type === 'transfers'), 'signed with the key from before the restart')
})

t.test('a list from a creation date reads only the documents created since, in insertion order (memory and PostgreSQL)', async (t) => {
  const { url } = await testDatabase(t)
  const { memoryState } = await import('../../../../src/adapters/circle/simulator/state.ts')
  for (const state of [memoryState(), await postgresState(url)]) {
    t.teardown(() => state.close())
    const at = (minute: number) => new Date(Date.UTC(2026, 10, 26, 12, minute)).toISOString()
    await state.atomically(async (tx) => {
      for (const [id, minute, wallet] of [['old', 1, 'w1'], ['edge', 5, 'w1'], ['new', 9, 'w2'], ['newer', 7, 'w1']] as const) await tx.put('transfers', id, { id, createDate: at(minute) }, [wallet])
    })
    const ids = async (filter: Parameters<typeof state.read.list>[1]) => (await state.read.list<{ id: string }>('transfers', filter)).map((d) => d.id)
    t.same(await ids({ createdFrom: at(5) }), ['edge', 'new', 'newer'], `${state.kind}: at or after the instant, in insertion order`)
    t.same(await ids({ createdFrom: at(5), walletId: 'w1' }), ['edge', 'newer'], `${state.kind}: with a wallet`)
    t.same(await ids({ createdFrom: '2026-11-26T12:05:00+00:00' }), ['edge', 'new', 'newer'], `${state.kind}: another ISO spelling of the same instant`)
    t.same(await ids({}), ['old', 'edge', 'new', 'newer'], `${state.kind}: no filter, everything`)
  }
})

t.test('a page is the filtered list newest first, sliced at its cursor: the same in memory and PostgreSQL', async (t) => {
  const { url } = await testDatabase(t)
  const { memoryState } = await import('../../../../src/adapters/circle/simulator/state.ts')
  type Doc = { id: string; createDate?: string; source: { type: string; id: string }; destination: { type: string; id?: string } }
  const at = (second: number) => new Date(Date.UTC(2026, 10, 26, 12, 0, second)).toISOString()
  // Creation dates out of insertion order (a page follows insertion), a document replaced (it keeps
  // its place), one with no creation date, one whose destination is a chain.
  const docs: Doc[] = Array.from({ length: 40 }, (_, i) => ({
    id: `t${i}`,
    createDate: at((i * 7) % 40),
    source: { type: 'wallet', id: `w${i % 3}` },
    destination: i % 5 === 0 ? { type: 'blockchain' } : { type: 'wallet', id: `w${(i + 1) % 3}` },
  }))
  delete docs[13]!.createDate
  const walletsOf = (d: Doc) => [d.source.id, ...(d.destination.id === undefined ? [] : [d.destination.id])]
  const queries: PageQuery[] = []
  for (const walletId of [undefined, 'w0', 'w2'])
    for (const dates of [{}, { createdFrom: at(10) }, { createdTo: at(25) }, { createdFrom: at(5), createdTo: at(30) }])
      for (const contains of [undefined, { source: { type: 'wallet', id: 'w1' } }, { source: { id: 'w0' }, destination: { type: 'wallet', id: 'w1' } }])
        for (const cursor of [{}, { after: 't22' }, { before: 't22' }, { after: 't0' }, { before: 't39' }, { after: 'unknown' }])
          for (const size of [1, 3, 50])
            queries.push({ ...(walletId === undefined ? {} : { walletId }), ...dates, ...(contains === undefined ? {} : { contains }), ...cursor, size })
  // The reference: the whole list filtered here, reversed and sliced.
  const expected = (all: Doc[], q: PageQuery) => {
    const from = q.createdFrom === undefined ? -Infinity : Date.parse(q.createdFrom)
    const to = q.createdTo === undefined ? Infinity : Date.parse(q.createdTo)
    const sourceId = (q.contains?.source as { id?: string } | undefined)?.id
    const destinationId = (q.contains?.destination as { id?: string } | undefined)?.id
    const newestFirst = all
      .filter((d) => (q.walletId === undefined || walletsOf(d).includes(q.walletId)) && (q.createdFrom === undefined && q.createdTo === undefined ? true : d.createDate !== undefined && Date.parse(d.createDate) >= from && Date.parse(d.createDate) <= to))
      .filter((d) => (sourceId === undefined || d.source.id === sourceId) && (destinationId === undefined || (d.destination.type === 'wallet' && d.destination.id === destinationId)))
      .reverse()
      .map((d) => d.id)
    const i = newestFirst.indexOf(q.after ?? q.before ?? '')
    if (q.after !== undefined) return i < 0 ? [] : newestFirst.slice(i + 1, i + 1 + q.size)
    if (q.before !== undefined) return i < 0 ? [] : newestFirst.slice(Math.max(0, i - q.size), i)
    return newestFirst.slice(0, q.size)
  }
  for (const state of [memoryState(), await postgresState(url, { schema: 'paging' })]) {
    t.teardown(() => state.close())
    await state.atomically(async (tx) => {
      for (const d of docs) await tx.put('transfers', d.id, { ...d, destination: { ...d.destination } }, walletsOf(d))
      await tx.put('transfers', 't7', { ...docs[7], replaced: true }, walletsOf(docs[7]!))
    })
    let nonEmpty = 0
    for (const q of queries) {
      const got = (await state.read.page<Doc>('transfers', q)).map((d) => d.id)
      const want = expected(docs, q)
      if (want.length > 0) nonEmpty++
      if (JSON.stringify(got) !== JSON.stringify(want)) t.same(got, want, `${state.kind}: ${JSON.stringify(q)}`)
    }
    t.ok(nonEmpty > queries.length / 6, `${state.kind}: ${queries.length} queries answered as the filtered list (${nonEmpty} of them non-empty)`)
    t.same((await state.read.page<Doc>('transfers', { walletId: 'w1', size: 50 })).find((d) => d.id === 't7')?.doc, { ...docs[7], replaced: true }, `${state.kind}: a page carries the documents as stored`)
  }
})

t.test('units that name different locks run side by side; a shared lock, or none, makes them wait (PostgreSQL)', async (t) => {
  const { url } = await testDatabase(t)
  const state = await postgresState(url, { poolSize: 4 })
  t.teardown(() => state.close())
  const log: string[] = []
  /** A unit that holds its locks until `release` is called. */
  const hold = (name: string, locks: string[] | undefined) => {
    let release!: () => void
    const released = new Promise<void>((resolve) => (release = resolve))
    let entered!: () => void
    const started = new Promise<void>((resolve) => (entered = resolve))
    const done = state.atomically(
      async () => {
        log.push(`${name} in`)
        entered()
        await released
        log.push(`${name} out`)
      },
      locks === undefined ? {} : { locks },
    )
    return { release, started, done }
  }
  const settled = (p: Promise<unknown>, ms = 300) => Promise.race([p.then(() => true), new Promise((r) => setTimeout(() => r(false), ms))])

  const a = hold('a', ['wallets/1'])
  await a.started
  const b = hold('b', ['wallets/2', 'idempotency/k'])
  await b.started
  t.same(log, ['a in', 'b in'], 'different documents: both units are inside at once')
  const c = hold('c', ['wallets/2'])
  t.equal(await settled(c.started), false, 'a unit naming a held document waits')
  b.release()
  await b.done
  await c.started
  t.same(log.slice(2), ['b out', 'c in'], 'and enters when the holder commits')
  const whole = hold('whole', undefined)
  t.equal(await settled(whole.started), false, 'a unit naming no locks waits for the keyed units inside')
  a.release()
  c.release()
  await Promise.all([a.done, c.done])
  await whole.started
  const d = hold('d', ['wallets/9'])
  t.equal(await settled(d.started), false, 'and a keyed unit waits while it runs alone')
  whole.release()
  await whole.done
  await d.started
  d.release()
  await d.done
  t.same(log.slice(4), ['a out', 'c out', 'whole in', 'whole out', 'd in', 'd out'])
})

t.test('afterCommit runs once the writes are visible, and never for a unit that fails (memory and PostgreSQL)', async (t) => {
  const { url } = await testDatabase(t)
  const { memoryState } = await import('../../../../src/adapters/circle/simulator/state.ts')
  for (const state of [memoryState(), await postgresState(url)]) {
    t.teardown(() => state.close())
    let seen: unknown = 'not run'
    await state.atomically(
      async (tx) => {
        await tx.put('jobs', 'j1', { n: 1 })
        tx.afterCommit(() => {
          seen = 'pending'
          void state.read.get('jobs', 'j1').then((doc) => (seen = doc))
        })
        t.equal(seen, 'not run', `${state.kind}: not inside the unit`)
      },
      { locks: ['jobs/j1'] },
    )
    await until(async () => seen !== 'pending', 2000, 'the callback read')
    t.same(seen, { n: 1 }, `${state.kind}: the callback sees the unit's write`)
    let ran = false
    await t.rejects(
      state.atomically(async (tx) => {
        await tx.put('jobs', 'j2', { n: 2 })
        tx.afterCommit(() => (ran = true))
        throw new Error('refused')
      }),
    )
    t.equal(ran, false, `${state.kind}: a failed unit runs no callback`)
  }
})

t.test('concurrent transfers from one wallet at two simulators never overdraw it; money is conserved (PostgreSQL)', async (t) => {
  const { url } = await testDatabase(t)
  const a = await createCircleSimulator({ settleMs: 0, state: await postgresState(url) })
  const b = await createCircleSimulator({ settleMs: 0, state: await postgresState(url) })
  t.teardown(async () => {
    await a.close()
    await b.close()
  })
  const post = (sim: typeof a, url: string, payload: object) => sim.app.inject({ method: 'POST', url, headers: auth, payload })
  const wallet = async () => (await post(a, '/v1/wallets', { idempotencyKey: randomUUID() })).json().data.walletId as string
  const source = await wallet()
  const x = await wallet()
  const y = await wallet()
  const send = (sim: typeof a, from: string, to: string, amount: string) =>
    post(sim, '/v1/transfers', { idempotencyKey: randomUUID(), source: { type: 'wallet', id: from }, destination: { type: 'wallet', id: to }, amount: { amount, currency: 'USD' } })
  t.equal((await send(a, a.masterWalletId, source, '10.00')).statusCode, 201)
  await until(async () => (await a.balanceOf(source)) === 10_000_000n, 5000, 'source funded')

  const answers = await Promise.all(Array.from({ length: 24 }, (_, i) => send(i % 2 === 0 ? a : b, source, i % 3 === 0 ? x : y, '1.00')))
  const made = answers.filter((r) => r.statusCode === 201).length
  t.equal(made, 10, '10.00 pays for exactly ten transfers of 1.00')
  t.ok(
    answers.filter((r) => r.statusCode !== 201).every((r) => r.json().code === 1093),
    'the rest are refused for insufficient funds',
  )
  await until(async () => ((await a.balanceOf(x)) ?? 0n) + ((await a.balanceOf(y)) ?? 0n) === 10_000_000n, 5000, 'all ten settled')
  t.equal(await a.balanceOf(source), 0n, 'the source is empty, never negative')
})
