import t from 'tap'
import { PostgresEventStore } from '../../../src/adapters/event-store/postgres.ts'
import { runCli } from '../../helpers/cli.ts'
import { testDatabase } from '../../helpers/database.ts'
import { randomOperations } from '../../helpers/random-operations.ts'

t.test('replay writes the log, a range of it, or one stream as NDJSON', async (t) => {
  const { pool, url } = await testDatabase(t)
  const store = new PostgresEventStore(pool, { pollIntervalMs: 50 })
  t.teardown(() => store.close())
  const run = await randomOperations(store, { steps: 80, maxWallets: 3 })
  const all = (await store.readAll({ maxCount: 100_000 })).events
  const parse = (out: string) => out.trimEnd().split('\n').map((l) => JSON.parse(l))

  const full = await runCli(url, ['replay', '--after', '0'])
  t.equal(full.status, 0, 'exit 0', { stderr: full.stderr })
  t.same(parse(full.stdout), all.map(({ position, stream, revision, id, type, data, metadata, recordedAt }) => ({ position, stream, revision, id, type, data, metadata, recordedAt })), 'every event, in position order')
  t.match(full.stderr, new RegExp(`replayed ${all.length} events up to position ${all.at(-1)!.position}`))

  const range = await runCli(url, ['replay', '--after', '10', '--until', '20'])
  t.same(parse(range.stdout).map((e) => e.position), Array.from({ length: 10 }, (_, i) => String(11 + i)))

  const wallet = `wallet-${run.wallets[0]}`
  const stream = await runCli(url, ['--json', 'replay', '--stream', wallet])
  const events = parse(stream.stdout)
  t.same(events.map((e) => e.revision), events.map((_, i) => i), 'one stream in revision order')
  t.ok(events.every((e) => e.stream === wallet))
  t.match(JSON.parse(stream.stderr.trim().split('\n').at(-1)!), { events: events.length })

  t.equal((await runCli(url, ['replay'])).status, 2, 'nothing to replay is a usage error')
  const kurrentForm = await runCli(url, ['replay', '--after', '5/3'])
  t.equal(kurrentForm.status, 2, 'a position this store never hands out')
  t.match(kurrentForm.stderr, /--after must be a position of the event log, such as 1042/)
  const backwards = await runCli(url, ['replay', '--after', '10', '--until', '2'])
  t.equal(backwards.status, 2)
  t.match(backwards.stderr, /--until comes before --after/)
  t.equal((await runCli(url, ['replay', '--stream', ''])).status, 2, 'an empty stream name')
  t.equal((await runCli(url, ['replay', '--stream', wallet, '--after', '0'])).status, 2)
})
