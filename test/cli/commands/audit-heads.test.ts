import { spawnSync } from 'node:child_process'
import path from 'node:path'
import { jetstream, jetstreamManager } from '@nats-io/jetstream'
import { connect } from '@nats-io/transport-node'
import t from 'tap'
import { ensureLedgerStream } from '../../../src/adapters/nats/stream.ts'
import { freshDatabaseUrl } from '../../helpers/database.ts'
import { machineNats, testStream } from '../../helpers/nats.ts'

const root = path.resolve(import.meta.dirname, '..', '..', '..')

t.test('audit-heads list prints the heads kept in the stream, oldest first', async (t) => {
  const stream = testStream(t)
  const nc = await connect({ servers: machineNats })
  t.teardown(() => nc.close())
  await ensureLedgerStream(await jetstreamManager(nc), stream)
  const js = jetstream(nc)
  const heads = [
    { schemaVersion: 1, position: '5', hash: 'a'.repeat(64), at: '2026-11-26T12:00:00.000Z' },
    { schemaVersion: 1, position: '8', hash: 'b'.repeat(64), at: '2026-11-26T12:01:00.000Z' },
  ]
  for (const h of heads) await js.publish(`${stream.subjectPrefix}.audit.head`, JSON.stringify(h))
  await js.publish(`${stream.subjectPrefix}.audit.head`, 'not json')
  await js.publish(`${stream.subjectPrefix}.mint.completed.w`, JSON.stringify({ position: '6' }))

  const env = { PATH: process.env.PATH, DATABASE_URL: freshDatabaseUrl(t, 'cl_heads'), NATS_URL: machineNats, NATS_STREAM: stream.name, NATS_SUBJECT_PREFIX: stream.subjectPrefix }
  const json = spawnSync(process.execPath, ['src/cli/main.ts', '--json', 'audit-heads', 'list'], { cwd: root, env, encoding: 'utf8' })
  t.equal(json.status, 0, json.stderr)
  const out = JSON.parse(json.stdout)
  t.same(out.heads.map((h: { position: string; hash: string }) => [h.position, h.hash]), heads.map((h) => [h.position, h.hash]))
  t.equal(out.invalid, 1, 'an unreadable message is counted, not listed')

  const human = spawnSync(process.execPath, ['src/cli/main.ts', 'audit-heads', 'list'], { cwd: root, env, encoding: 'utf8' })
  t.equal(human.status, 0)
  t.match(human.stdout, /2 audit heads in stream/)
  t.match(human.stdout, new RegExp(`position\\s+8\\s+${'b'.repeat(64)}`))

  const bad = spawnSync(process.execPath, ['src/cli/main.ts', 'audit-heads', 'verify'], { cwd: root, env, encoding: 'utf8' })
  t.equal(bad.status, 2, 'an unknown action is a usage error')
})
