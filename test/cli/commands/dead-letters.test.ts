import { spawnSync } from 'node:child_process'
import { userInfo } from 'node:os'
import path from 'node:path'
import t from 'tap'
import { PostgresEventStore } from '../../../src/adapters/event-store/postgres.ts'
import { openDeadLetter } from '../../../src/dead-letters/dead-letters.ts'
import { testDatabase } from '../../helpers/database.ts'

const root = path.resolve(import.meta.dirname, '../../..')

t.test('dead-letters list, replay and discard from the CLI, recorded with the operator as actor', async (t) => {
  const database = await testDatabase(t)
  const store = new PostgresEventStore(database.pool)
  t.teardown(() => store.close())
  const webhook = await openDeadLetter(store, database.db, { kind: 'webhook', subject: 'n-1', detail: 'transfers', error: 'Circle transfer x is not known yet', attempts: 12 }, 'circle-webhook', 0)
  const other = await openDeadLetter(store, database.db, { kind: 'webhook', subject: 'n-2', detail: 'payouts', error: 'boom', attempts: 12 }, 'circle-webhook', 0)
  await database.db.insertInto('webhook_inbox').values({ id: 'n-1', scheme: 'v2', notification_type: 'transfers', resource: '{}', status: 'dead', locked_until: null, last_error: 'x', dead_letter_id: webhook, processed_at: null }).execute()
  const cli = (...args: string[]) => spawnSync(process.execPath, ['src/cli/main.ts', ...args], { cwd: root, env: { PATH: process.env.PATH, DATABASE_URL: database.url }, encoding: 'utf8' })

  const list = cli('--json', 'dead-letters', 'list', '--kind', 'webhook')
  t.equal(list.status, 0, list.stderr)
  t.same((JSON.parse(list.stdout).deadLetters as { id: string }[]).map((d) => d.id).sort(), [webhook, other].sort())
  t.equal(cli('dead-letters', 'list', '--kind', 'nonsense').status, 2)
  t.equal(cli('dead-letters', 'discard', other).status, 2, 'discard needs a reason')
  // A flag an action does not take is refused, and the action is not taken.
  for (const args of [['replay', webhook, '--dry-run'], ['replay', webhook, '--reason', 'x'], ['discard', other, '--reason', 'x', '--force'], ['list', 'extra'], ['list', '--kind', 'task', '--limit', '5']]) {
    const refused = cli('dead-letters', ...args)
    t.equal(refused.status, 2, args.join(' '))
    t.match(refused.stderr, /unexpected argument/)
  }
  t.same(JSON.parse(cli('--json', 'dead-letters', 'list', '--status', 'open').stdout).deadLetters.length, 2, 'both still open')

  const discarded = cli('dead-letters', 'discard', other.toUpperCase(), '--reason', 'payout handled by hand')
  t.equal(discarded.status, 0, discarded.stderr)
  t.match(discarded.stdout, /discarded by admin:cli:/)
  const replayed = cli('dead-letters', 'replay', webhook)
  t.equal(replayed.status, 0, replayed.stderr)
  t.equal(cli('dead-letters', 'replay', webhook).status, 1, 'a second replay is refused')
  const inbox = await database.db.selectFrom('webhook_inbox').selectAll().where('id', '=', 'n-1').executeTakeFirstOrThrow()
  t.equal(inbox.status, 'pending', 'the notification is back in the inbox')
  t.equal(inbox.attempts, 0)
  const events = await store.readStream(`deadletter-${other}`)
  t.same(events.map((e) => [e.type, e.metadata.actor]), [['DeadLetterRecorded', 'circle-webhook'], ['DeadLetterDiscarded', `admin:cli:${userInfo().username}`]])
  const open = cli('--json', 'dead-letters', 'list', '--status', 'open')
  t.same(JSON.parse(open.stdout).deadLetters, [])
})
