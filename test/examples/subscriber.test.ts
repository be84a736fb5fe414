import { randomUUID } from 'node:crypto'
import { spawn } from 'node:child_process'
import path from 'node:path'
import { jetstream, jetstreamManager } from '@nats-io/jetstream'
import { connect } from '@nats-io/transport-node'
import t from 'tap'
import { runExampleSubscriber } from '../../examples/subscriber.ts'
import type { Notification } from '../../src/adapters/nats/notification.ts'
import { ensureLedgerStream } from '../../src/adapters/nats/stream.ts'
import { eventually, machineNats, testStream } from '../helpers/nats.ts'

const root = path.resolve(import.meta.dirname, '..', '..')

const note = (i: number, walletId: string): Notification => ({
  schemaVersion: 1,
  eventId: randomUUID(),
  resource: 'mint',
  id: `m-${i}`,
  walletId,
  ownerId: null,
  status: 'completed',
  previousStatus: 'processing',
  amount: `${i}.00`,
  currency: 'USD',
  circleId: null,
  txHash: null,
  failure: null,
  occurredAt: '2026-11-26T12:00:00.000Z',
  position: String(i),
})

t.test('the example subscriber: durable pull consumer, explicit acks, redelivery after a failure, dedupe by eventId', async (t) => {
  const stream = testStream(t)
  const nc = await connect({ servers: machineNats })
  t.teardown(() => nc.close())
  const jsm = await jetstreamManager(nc)
  await ensureLedgerStream(jsm, stream)
  const js = jetstream(nc)
  const walletId = randomUUID()
  const publish = async (n: Notification, msgID = n.eventId) => {
    await js.publish(`${stream.subjectPrefix}.mint.completed.${walletId}`, JSON.stringify(n), { msgID })
  }
  const notes = Array.from({ length: 10 }, (_, i) => note(i + 1, walletId))
  for (const n of notes) await publish(n)
  // The same event again under another message id, as a republish past the duplicate window would be.
  await publish(notes[3]!, `${notes[3]!.eventId}-again`)
  await js.publish(`${stream.subjectPrefix}.mint.completed.${walletId}`, 'garbage')
  const head = { schemaVersion: 1, position: '42', hash: 'ab'.repeat(32), at: '2026-11-26T12:00:01.000Z' }
  await js.publish(`${stream.subjectPrefix}.audit.head`, JSON.stringify(head))

  const handled: string[] = []
  const heads: unknown[] = []
  const logged: string[] = []
  let failOnce = true
  const run = (signal: AbortSignal) =>
    runExampleSubscriber({
      servers: machineNats,
      stream: stream.name,
      durable: 'mirror',
      filterSubject: `${stream.subjectPrefix}.>`,
      retryDelayMs: 100,
      signal,
      log: (line) => logged.push(line),
      async auditHead(h) {
        heads.push(h)
      },
      async handle(n) {
        if (n.id === 'm-5' && failOnce) {
          failOnce = false
          throw new Error('database briefly unavailable')
        }
        handled.push(n.eventId)
      },
    })
  const first = new AbortController()
  const running = run(first.signal)
  await eventually(async () => handled.length, (n) => n === 10, 20_000)
  t.same(new Set(handled), new Set(notes.map((n) => n.eventId)), 'every notification handled, the failed one after its redelivery')
  t.equal(handled.length, 10, 'the duplicate eventId was acknowledged without handling it again')
  t.equal(handled.at(-1), notes[4]!.eventId, 'the failed notification came back after a pause')
  await eventually(async () => heads.length, (n) => n === 1, 10_000)
  t.same(heads, [head], 'the audit chain head is handed over to be kept')
  t.same(logged.filter((l) => l.startsWith('skipping unreadable')).length, 1, 'only the garbage is skipped as unreadable, not the audit head')
  await eventually(
    () => jsm.consumers.info(stream.name, 'mirror'),
    (i) => i.num_ack_pending === 0 && i.num_pending === 0,
    10_000,
  )
  first.abort()
  await running

  const later = note(11, walletId)
  await publish(later)
  const second = new AbortController()
  const again = run(second.signal)
  await eventually(async () => handled.length, (n) => n === 11, 20_000)
  t.equal(handled.at(-1), later.eventId, 'after a restart the durable consumer resumes where it acknowledged')
  second.abort()
  await again
})

t.test('npm run example:subscriber prints one line per notification', async (t) => {
  const stream = testStream(t)
  const nc = await connect({ servers: machineNats })
  t.teardown(() => nc.close())
  await ensureLedgerStream(await jetstreamManager(nc), stream)
  const n = note(7, randomUUID())
  await jetstream(nc).publish(`${stream.subjectPrefix}.mint.completed.${n.walletId}`, JSON.stringify(n), { msgID: n.eventId })
  await jetstream(nc).publish(`${stream.subjectPrefix}.audit.head`, JSON.stringify({ schemaVersion: 1, position: '9', hash: 'cd'.repeat(32), at: '2026-11-26T12:00:02.000Z' }))
  const child = spawn(process.execPath, ['examples/subscriber.ts'], {
    cwd: root,
    env: { PATH: process.env.PATH, NATS_URL: machineNats, NATS_STREAM: stream.name, NATS_SUBJECT_PREFIX: stream.subjectPrefix, DURABLE: 'cli' },
  })
  let out = ''
  child.stdout.on('data', (d: Buffer) => (out += d.toString()))
  t.teardown(() => void child.kill('SIGKILL'))
  await eventually(async () => out, (o) => o.split('\n').length > 2, 20_000)
  t.match(out, /mint m-7 processing -> completed 7\.00 USD/)
  t.match(out, new RegExp(`2026-11-26T12:00:02.000Z audit head at position 9: ${'cd'.repeat(32)}`), 'and one per audit chain head')
  child.kill('SIGINT')
  const code = await new Promise((resolve) => child.once('exit', resolve))
  t.equal(code, 0, 'stops cleanly on Ctrl-C')
})
