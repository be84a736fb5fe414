import { randomUUID } from 'node:crypto'
import type { Test } from 'tap'
import { execute } from '../../src/commands/handler.ts'
import { recordWalletOutcome } from '../../src/commands/record-wallet-outcome.ts'
import { recordMintOutcome } from '../../src/commands/record-mint-outcome.ts'
import type { AppDeps } from '../../src/http/app.ts'
import { auth, testApp } from './app.ts'
import type { TestDatabase } from './database.ts'
import { meta } from './commands.ts'
import { contractClient } from './openapi.ts'

/** The app, a client checking every answer against /openapi.json, and shortcuts for common setups. */
export async function httpHarness(t: Test, overrides: Partial<AppDeps> = {}, database?: TestDatabase) {
  const h = await testApp(t, overrides, database)
  const client = await contractClient(t, h.app)
  const post = (url: string, body: unknown, headers: Record<string, string> = {}) =>
    client.call({ method: 'POST', url, payload: body as object, headers: { ...auth.backend, 'idempotency-key': randomUUID(), ...headers } })
  const get = (url: string, headers: Record<string, string> = auth.backend) => client.call({ method: 'GET', url, headers })

  /** Waits until the read models include every event written so far (writes made outside a POST are seen eventually). */
  async function settle(): Promise<void> {
    const head = await h.store.head()
    if (head !== undefined) await h.projections.caughtUp(head)
  }

  /** A wallet made active the way the process manager would, optionally funded by a completed mint. */
  async function activeWallet(ownerId = 'owner-1', funds?: string): Promise<string> {
    const res = await post('/wallets', { ownerId })
    const walletId = res.json().id as string
    await execute(h.store, recordWalletOutcome, { walletId, outcome: { type: 'created', circleWalletId: `cw-${walletId.slice(0, 8)}` } }, meta({ actor: 'process-manager' }))
    if (funds) {
      const mint = (await post('/mint', { walletId, amount: funds })).json()
      await execute(h.store, recordMintOutcome, { mintId: mint.id, outcome: { type: 'completed', circleTransferId: `ct-${mint.id}` } }, meta({ actor: 'process-manager' }))
    }
    await settle()
    return walletId
  }
  return { ...h, client, post, get, activeWallet, settle }
}
