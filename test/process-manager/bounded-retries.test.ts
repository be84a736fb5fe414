import t from 'tap'
import { CircleError, type CirclePort } from '../../src/adapters/circle/port.ts'
import { circleKey } from '../../src/commands/ids.ts'
import { auth } from '../helpers/app.ts'
import { until } from '../helpers/circle.ts'
import { apiBankAccount, apiCard, apiMint, apiWallet, downableIssuer, isSettled, scrapeWhen, waitFor, webhookFlow } from '../helpers/webhook-flow.ts'

type DeadLetter = { id: string; kind: string; subject: string; detail: string; attention?: string; status: string; attempts: number; error: string }

async function openDeadLetter(h: Awaited<ReturnType<typeof webhookFlow>>, subject: string): Promise<DeadLetter> {
  return until(async () => {
    const res = await h.get('/admin/dead-letters?kind=task&status=open', auth.admin)
    return (res.json().items as DeadLetter[]).find((d) => d.subject === subject)
  }, 20_000, `dead letter for ${subject}`)
}

t.test('the issuer down for a card freeze: the task dead-letters, the card shows issuer_sync_failed, and a replay pushes the freeze', async (t) => {
  const { switchboard, wrap } = downableIssuer(['get', 'freeze', 'unfreeze', 'close'])
  const h = await webhookFlow(t, { taskMaxAttempts: 3, issuer: wrap })
  const { cardId, issuerCardId } = await apiCard(h)

  switchboard.down = true
  t.equal((await h.app.inject({ method: 'POST', url: `/cards/${cardId}/freeze`, headers: auth.backend })).statusCode, 200)
  const dead = await openDeadLetter(h, `card-${cardId}`)
  t.equal(dead.detail, 'card')
  t.equal(dead.attempts, 3)
  t.equal(dead.attention, 'issuer_sync_failed')
  t.match(dead.error, /issuer unreachable/)
  const flagged = await waitFor(h, `/cards/${cardId}`, (b) => b.attention !== undefined)
  t.equal(flagged.status, 'frozen')
  t.equal(flagged.attention, 'issuer_sync_failed')
  t.equal((await h.sim.card(issuerCardId))?.status, 'active', 'the issuer never heard of the freeze')
  // The dead letter is listed a moment before the worker parks its task.
  const task = await until(async () => {
    const row = await h.db.selectFrom('pm_tasks').selectAll().where('stream', '=', `card-${cardId}`).executeTakeFirstOrThrow()
    return row.done ? row : undefined
  }, 5000, 'task parked')
  t.ok(task.done, 'no silent retry: the task is parked')
  t.equal(task.dead_letter_id, dead.id)
  // The process manager counts the dead letter after the task is parked, a moment after the row shows it.
  const metrics = await scrapeWhen(h, /dead_letters_total\{source="task",kind="card"\} 1/)
  t.match(metrics, /dead_letters_total\{source="task",kind="card"\} 1/)
  t.match(metrics, /pm_task_attempts_total\{kind="card",result="failed"\} 3/)
  t.match(metrics, /dead_letters_open\{source="task",kind="card"\} 1/)

  switchboard.down = false
  const replayed = await h.app.inject({ method: 'POST', url: `/admin/dead-letters/${dead.id}/replay`, headers: auth.admin })
  t.equal(replayed.statusCode, 200, replayed.body)
  await until(async () => (await h.sim.card(issuerCardId))?.status === 'frozen', 10_000, 'issuer frozen')
  const cleared = await waitFor(h, `/cards/${cardId}`, (b) => b.attention === undefined)
  t.equal(cleared.status, 'frozen')
  const attentionEvents = (await h.events(`card-${cardId}`)).filter((e) => e.type.startsWith('OperationAttention') || e.type === 'OperationNeedsAttention')
  t.same(
    attentionEvents.map((e) => [e.type, e.metadata.actor]),
    [
      ['OperationNeedsAttention', 'process-manager'],
      ['OperationAttentionCleared', 'admin:dev-admin'],
    ],
  )
})

t.test('a refused compensation transfer: the redeem stays processing with attention compensation_failed until replayed', async (t) => {
  const switchboard = { refuse: true, redeemId: '' }
  const h = await webhookFlow(t, {
    taskMaxAttempts: 3,
    simulator: { settleMs: 50 },
    circle: (real): CirclePort =>
      Object.assign(Object.create(real) as CirclePort, {
        createTransfer: (request: Parameters<CirclePort['createTransfer']>[0]) =>
          switchboard.refuse && request.idempotencyKey === circleKey(switchboard.redeemId, 'compensation')
            ? Promise.reject(new CircleError('Insufficient funds.', { transient: false, status: 400, code: 1093 }))
            : real.createTransfer(request),
      }),
  })
  await fetch(`${h.url}/sim/faults`, { method: 'PUT', headers: { 'content-type': 'application/json', ...h.sim.controlHeaders }, body: JSON.stringify({ failPayoutAmounts: ['9.00'] }) })
  const wallet = await apiWallet(h)
  await waitFor(h, `/mints/${await apiMint(h, wallet.id, '30.00')}`, isSettled)
  const bankAccountId = await apiBankAccount(h)
  const res = await h.post('/redeem', { walletId: wallet.id, bankAccountId, amount: '9.00' })
  const redeemId = res.json().id as string
  switchboard.redeemId = redeemId

  const dead = await openDeadLetter(h, `redeem-${redeemId}`)
  t.equal(dead.attention, 'compensation_failed')
  t.match(dead.error, /Insufficient funds/)
  const stuck = await waitFor(h, `/redeems/${redeemId}`, (b) => b.attention !== undefined)
  t.equal(stuck.status, 'processing')
  t.equal(stuck.attention, 'compensation_failed')
  const w = (await h.get(`/wallets/${wallet.id}`)).json()
  t.equal(w.balances.reserved, '9.00', 'the funds stay reserved while a person looks')

  switchboard.refuse = false
  t.equal((await h.app.inject({ method: 'POST', url: `/admin/dead-letters/${dead.id}/replay`, headers: auth.admin })).statusCode, 200)
  const settled = await waitFor(h, `/redeems/${redeemId}`, isSettled)
  t.equal(settled.status, 'failed')
  t.equal(settled.attention, undefined)
  await waitFor(h, `/wallets/${wallet.id}`, (b) => (b.balances as { available: string }).available === '30.00')
  const types = (await h.events(`redeem-${redeemId}`)).map((e) => e.type)
  t.equal(types.filter((x) => x === 'RedeemFailed').length, 1)
  t.ok(types.indexOf('OperationNeedsAttention') < types.indexOf('OperationAttentionCleared'))
})

t.test('a compensation transfer that fails at Circle: recorded, no new one until an admin replays, then a new one brings the USDC back', async (t) => {
  const state = { redeemId: '', simUrl: '', headers: {} as Record<string, string> }
  // The first transfer back fails at Circle (after it was accepted); the one after the replay does not.
  const faults = (failAmounts: string[]) =>
    fetch(`${state.simUrl}/sim/faults`, { method: 'PUT', headers: { 'content-type': 'application/json', ...state.headers }, body: JSON.stringify({ failPayoutAmounts: ['9.00'], failAmounts }) })
  const h = await webhookFlow(t, {
    taskMaxAttempts: 3,
    simulator: { settleMs: 50 },
    circle: (real): CirclePort =>
      Object.assign(Object.create(real) as CirclePort, {
        createTransfer: async (request: Parameters<CirclePort['createTransfer']>[0]) => {
          if (request.idempotencyKey === circleKey(state.redeemId, 'compensation')) await faults(['9.00'])
          if (request.idempotencyKey === circleKey(state.redeemId, 'compensation-2')) await faults([])
          return real.createTransfer(request)
        },
      }),
  })
  state.simUrl = h.url
  state.headers = h.sim.controlHeaders
  await faults([])
  const wallet = await apiWallet(h)
  await waitFor(h, `/mints/${await apiMint(h, wallet.id, '30.00')}`, isSettled)
  const bankAccountId = await apiBankAccount(h)
  const redeemId = (await h.post('/redeem', { walletId: wallet.id, bankAccountId, amount: '9.00' })).json().id as string
  state.redeemId = redeemId

  const dead = await openDeadLetter(h, `redeem-${redeemId}`)
  t.equal(dead.attention, 'compensation_failed')
  t.match(dead.error, /failed at Circle; the USDC is still in the master wallet/)
  t.equal((await waitFor(h, `/redeems/${redeemId}`, (b) => b.attention !== undefined)).status, 'processing')
  t.equal((await h.get(`/wallets/${wallet.id}`)).json().balances.reserved, '9.00', 'the funds stay reserved while a person looks')
  let events = await h.events(`redeem-${redeemId}`)
  const first = events.filter((e) => e.type === 'RedeemCompensationSubmitted').map((e) => e.data.circleTransferId)
  t.equal(first.length, 1, 'the retries sent no new transfer back: one, then waiting for an admin')
  t.same(events.filter((e) => e.type === 'RedeemCompensationFailed').map((e) => e.data.circleTransferId), first, 'its failure is recorded once')

  t.equal((await h.app.inject({ method: 'POST', url: `/admin/dead-letters/${dead.id}/replay`, headers: auth.admin })).statusCode, 200)
  const settled = await waitFor(h, `/redeems/${redeemId}`, isSettled)
  t.equal(settled.status, 'failed')
  t.equal(settled.attention, undefined)
  await waitFor(h, `/wallets/${wallet.id}`, (b) => (b.balances as { available: string; reserved: string }).available === '30.00')
  t.equal((await h.get(`/wallets/${wallet.id}`)).json().balances.reserved, '0.00', 'the reservation is released')
  events = await h.events(`redeem-${redeemId}`)
  const submitted = events.filter((e) => e.type === 'RedeemCompensationSubmitted').map((e) => e.data.circleTransferId)
  t.equal(submitted.length, 2, 'the replay sent one new transfer back')
  t.not(submitted[1], submitted[0], 'a new transfer at Circle, not the failed one again')
  t.match(events.filter((e) => e.type === 'RedeemFailed').map((e) => e.data), [{ compensated: true }])
})

t.test('a dead letter can be discarded with a reason (required); the audit shows the admin', async (t) => {
  const h = await webhookFlow(t, {
    taskMaxAttempts: 2,
    circle: (real): CirclePort =>
      Object.assign(Object.create(real) as CirclePort, {
        treasuryBalance: () => Promise.reject(new CircleError('Something went wrong.', { transient: true, status: 500, code: -1 })),
      }),
  })
  const wallet = await apiWallet(h)
  const mintId = await apiMint(h, wallet.id, '1.00')
  const dead = await openDeadLetter(h, `mint-${mintId}`)
  t.equal(dead.attention, 'circle_call_failed')
  t.equal((await waitFor(h, `/mints/${mintId}`, (b) => b.attention !== undefined)).attention, 'circle_call_failed')
  const noReason = await h.app.inject({ method: 'POST', url: `/admin/dead-letters/${dead.id}/discard`, headers: auth.admin, payload: {} })
  t.equal(noReason.statusCode, 400)
  const forbidden = await h.app.inject({ method: 'POST', url: `/admin/dead-letters/${dead.id}/discard`, headers: auth.backend, payload: { reason: 'x' } })
  t.equal(forbidden.statusCode, 403)
  const discarded = await h.app.inject({ method: 'POST', url: `/admin/dead-letters/${dead.id}/discard`, headers: auth.admin, payload: { reason: 'minted by hand at Circle' } })
  t.equal(discarded.statusCode, 200, discarded.body)
  t.equal(discarded.json().status, 'discarded')
  t.equal(discarded.json().reason, 'minted by hand at Circle')
  const audit = await h.events(`deadletter-${dead.id}`)
  t.same(audit.map((e) => [e.type, e.metadata.actor]), [['DeadLetterRecorded', 'process-manager'], ['DeadLetterDiscarded', 'admin:dev-admin']])
  t.equal(audit[1]!.data.reason, 'minted by hand at Circle')
  const list = (await h.get('/admin/dead-letters?kind=webhook', auth.admin)).json()
  t.same(list.items, [], 'the kind filter leaves task dead letters out')
  t.equal((await h.get(`/admin/dead-letters/${dead.id}`, auth.admin)).json().status, 'discarded')
})

t.test('polling is the fallback: while webhooks arrive, the poll interval backs off', async (t) => {
  // No webhook subscription here: completion can only come from polling.
  const h = await webhookFlow(t, { webhooks: [], pollMs: 200, webhookBackoff: { pollMs: 60_000, windowMs: 60_000 }, simulator: { settleMs: 800 } })
  const wallet = await apiWallet(h)
  const first = await apiMint(h, wallet.id, '1.00')
  t.equal((await waitFor(h, `/mints/${first}`, isSettled, 10_000)).status, 'completed', 'no webhooks: polled every 200 ms')

  await h.db
    .insertInto('webhook_inbox')
    .values({ id: 'seen-1', scheme: 'v2', notification_type: 'webhooks.test', resource: '{}', locked_until: null, last_error: null, dead_letter_id: null, processed_at: null })
    .execute()
  await until(async () => h.pm.lastWebhookAt > 0, 10_000, 'the process manager notices webhooks')
  const second = await apiMint(h, wallet.id, '1.00')
  await new Promise((r) => setTimeout(r, 3000))
  t.equal((await h.get(`/mints/${second}`)).json().status, 'processing', 'with webhooks flowing the next poll is a minute away')
})
