import { randomUUID } from 'node:crypto'
import pino from 'pino'
import type { Test } from 'tap'
import { createWallet } from '../../src/commands/create-wallet.ts'
import { execute } from '../../src/commands/handler.ts'
import { requestMint } from '../../src/commands/request-mint.ts'
import { fold } from '../../src/events/fold.ts'
import { mint } from '../../src/events/mint.ts'
import { wallet } from '../../src/events/wallet.ts'
import type { ProcessManagerOptions } from '../../src/process-manager/process-manager.ts'
import { readModels } from '../../src/projections/index.ts'
import type { ReconcileOptions, ReconcilerDeps } from '../../src/reconciliation/reconciler.ts'
import { ProjectionRunner } from '../../src/subscriptions/projection-runner.ts'
import type { SimulatorOptions } from '../../src/adapters/circle/simulator/simulator.ts'
import { processManagerHarness, until } from './circle.ts'
import { meta } from './commands.ts'

/** Command metadata at the real time: staleness is measured from it. */
export const now = () => meta({ occurredAt: new Date().toISOString() })

/** Store, simulator, process manager and read models running, plus what a reconciliation run needs. */
export async function reconcileHarness(t: Test, sim: SimulatorOptions = {}, pm: Partial<ProcessManagerOptions> = {}) {
  const h = await processManagerHarness(t, sim, pm)
  const projections = new ProjectionRunner({ projections: readModels, store: h.store, db: h.db })
  projections.start()
  t.teardown(() => projections.stop())
  const logger = pino({ level: 'silent' })
  const deps: ReconcilerDeps = { db: h.db, pool: h.pool, store: h.store, circle: h.circle, logger }
  const options: ReconcileOptions = { staleAfterMs: 0, graceMs: 0, recheckMs: 50 }
  /** Waits until the read models include everything written so far. */
  const settled = async () => {
    const head = await h.store.head()
    if (head !== undefined) await projections.caughtUp(head, 30_000)
  }
  /** Control-route call on the simulator. */
  const control = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${h.url}${path}`, { method, headers: { ...h.sim.controlHeaders, ...(body === undefined ? {} : { 'content-type': 'application/json' }) }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) })
    const json = (await res.json()) as { data?: Record<string, unknown> } & Record<string, unknown>
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json)}`)
    return json
  }
  /** An active wallet (and its Circle id). */
  const newWallet = async () => {
    const walletId = randomUUID()
    await execute(h.store, createWallet, { walletId, ownerId: 'owner' }, now())
    const state = await until(async () => {
      const s = (await fold(h.store, wallet, walletId)).state
      return s.status === 'active' ? s : undefined
    }, 30_000, 'wallet active')
    return { walletId, circleWalletId: state.circleWalletId! }
  }
  /** A mint requested and waited for until `status`. */
  const mintInto = async (walletId: string, amount: bigint, status: 'processing' | 'completed' = 'completed') => {
    const mintId = randomUUID()
    await execute(h.store, requestMint, { mintId, walletId, amount }, now())
    await until(async () => (await fold(h.store, mint, mintId)).state.status === status, 30_000, `mint ${status}`)
    return mintId
  }
  return { ...h, projections, deps, options, settled, control, newWallet, mintInto }
}
