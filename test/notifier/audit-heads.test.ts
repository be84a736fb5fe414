import { randomBytes } from 'node:crypto'
import { jetstream } from '@nats-io/jetstream'
import { connect } from '@nats-io/transport-node'
import pino from 'pino'
import t from 'tap'
import { PostgresEventStore } from '../../src/adapters/event-store/postgres.ts'
import { AuditHeadPublisher, checkPublishedHeads, publishedHeads, type AuditHead } from '../../src/notifier/audit-heads.ts'
import { Notifier } from '../../src/notifier/notifier.ts'
import { testDatabase } from '../helpers/database.ts'
import { eventually, machineNats, streamMessages, testStream } from '../helpers/nats.ts'

const hash = () => randomBytes(32).toString('hex')

t.test('a head is published when it moved and at least every interval, and not otherwise', async (t) => {
  let head: AuditHead | undefined
  let now = Date.parse('2026-11-26T12:00:00.000Z')
  const sent: { subject: string; body: Record<string, unknown> }[] = []
  const publisher = new AuditHeadPublisher({
    source: async () => head,
    subjectPrefix: 'ledger.v1',
    intervalMs: 60_000,
    now: () => new Date(now),
    publish: async (subject, payload) => void sent.push({ subject, body: JSON.parse(payload) }),
  })
  t.equal(await publisher.tick(), false, 'an empty chain has no head to publish')
  head = { position: '10', hash: hash() }
  t.equal(await publisher.tick(), true, 'the first head is published')
  now += 1000
  t.equal(await publisher.tick(), false, 'unchanged within the interval: nothing')
  head = { position: '12', hash: hash() }
  t.equal(await publisher.tick(), true, 'moved: published at once')
  now += 59_000
  t.equal(await publisher.tick(), false)
  now += 1000
  t.equal(await publisher.tick(), true, 'unchanged for an interval: published again')
  t.same(
    sent.map((s) => [s.subject, s.body.position, s.body.at]),
    [
      ['ledger.v1.audit.head', '10', '2026-11-26T12:00:00.000Z'],
      ['ledger.v1.audit.head', '12', '2026-11-26T12:00:01.000Z'],
      ['ledger.v1.audit.head', '12', '2026-11-26T12:01:01.000Z'],
    ],
  )
  t.same(Object.keys(sent[0]!.body).sort(), ['at', 'hash', 'position', 'schemaVersion'])
})

t.test('a failed publish is not counted: the next look publishes the head', async (t) => {
  let fail = true
  const sent: string[] = []
  const publisher = new AuditHeadPublisher({
    source: async () => ({ position: '1', hash: 'a'.repeat(64) }),
    subjectPrefix: 'p',
    intervalMs: 60_000,
    publish: async (_s, payload) => {
      if (fail) throw new Error('NATS down')
      sent.push(payload)
    },
  })
  await t.rejects(publisher.tick(), /NATS down/)
  fail = false
  t.equal(await publisher.tick(), true)
  t.equal(sent.length, 1)
})

t.test('the notifier publishes the injected head source on NATS; publishedHeads reads them back and a rewritten chain is detected', async (t) => {
  const { db, pool } = await testDatabase(t)
  const store = new PostgresEventStore(pool, { pollIntervalMs: 50 })
  t.teardown(() => store.close())
  const stream = testStream(t)
  const chain = new Map<string, string>()
  let head: AuditHead | undefined
  const notifier = new Notifier({
    store,
    db,
    logger: pino({ level: 'silent' }),
    servers: machineNats,
    stream,
    auditHead: { source: async () => head, intervalMs: 60_000, pollMs: 20 },
  })
  notifier.start()
  t.teardown(() => notifier.stop())
  for (const position of ['3', '7', '9']) {
    head = { position, hash: hash() }
    chain.set(position, head.hash)
    await eventually(() => streamMessages(machineNats, stream.name).catch(() => []), (m) => m.some((x) => x.data.position === position), 10_000)
  }
  const nc = await connect({ servers: machineNats })
  t.teardown(() => nc.close())
  const { heads, invalid } = await publishedHeads(jetstream(nc), { stream: stream.name, subjectPrefix: stream.subjectPrefix })
  t.equal(invalid, 0)
  t.same(
    heads.map((h) => [h.position, h.hash]),
    [...chain.entries()],
    'each moved head once, in order',
  )
  t.ok(heads.every((h) => h.seq > 0 && !Number.isNaN(Date.parse(h.at))))

  const intact = await checkPublishedHeads(heads, async (p) => chain.get(p))
  t.same(intact, { checked: 3, mismatches: [] }, 'the stored chain passes through every published head')
  const rewritten = new Map([...chain.keys()].map((p) => [p, hash()]))
  rewritten.delete('3')
  const check = await checkPublishedHeads(heads, async (p) => rewritten.get(p))
  t.equal(check.mismatches.length, 3, 'a consistently rewritten chain disagrees with every published head')
  t.equal(check.mismatches[0]!.stored, undefined, 'a position the chain no longer has is a mismatch too')
})

t.test('an inactive instance (a standby without the lease) publishes no head', async (t) => {
  let active = false
  const sent: string[] = []
  const publisher = new AuditHeadPublisher({
    source: async () => ({ position: '1', hash: 'a'.repeat(64) }),
    subjectPrefix: 'p',
    intervalMs: 60_000,
    active: async () => active,
    publish: async (_s, payload) => void sent.push(payload),
  })
  t.equal(await publisher.tick(), false)
  active = true
  t.equal(await publisher.tick(), true)
  t.equal(sent.length, 1)
})
