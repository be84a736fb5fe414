import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { requestDepositAddress, schema as depositAddressCommand } from '../../commands/request-deposit-address.ts'
import type { DepositAddress } from '../../events/wallet.ts'
import { getWallet } from '../../projections/wallets.ts'
import { notFound } from '../errors.ts'
import type { RouteDeps } from '../command-resource-routes.ts'
import { answerCreated, create, derivedId, waitIfAsked } from '../command-requests.ts'
import { chain, commandErrorsFor, createdResponses, readErrors, failure, id, idempotencyHeaders } from '../schemas.ts'

export const addressBody = z
  .object({
    id: z.uuid(),
    walletId: z.uuid(),
    chain: z.string(),
    status: z.enum(['pending', 'active', 'failed']),
    address: z.string().optional(),
    addressTag: z.string().optional(),
    failure: failure.optional(),
  })
  .meta({
    id: 'DepositAddress',
    example: { id: '7a1e3c5d-2b4f-4e6a-9c8d-0f1e2d3c4b5a', walletId: '3f0c6d2e-8a4b-4c1d-9e2f-5a6b7c8d9e0f', chain: 'SOL', status: 'active', address: '4Nd1mBQtrMJVYVfKf2PJy9NZUZdTAsp7D4xWLs4gDB4T' },
  })

export function toAddress(walletId: string, a: DepositAddress): z.infer<typeof addressBody> {
  const body: z.infer<typeof addressBody> = { id: a.addressId, walletId, chain: a.chain, status: a.status }
  if (a.address !== undefined) body.address = a.address
  if (a.addressTag !== undefined) body.addressTag = a.addressTag
  if (a.failure !== undefined) body.failure = a.failure
  return body
}

/** Deposit addresses: requested here, generated at Circle by the process manager, listed in the wallet. */
export const addressRoutes: FastifyPluginAsyncZod<RouteDeps & { maxAddressesPerWallet?: number }> = async (app, { store, read, maxAddressesPerWallet }) => {
  const readAddress = async (walletId: string, addressId: string) => {
    const r = await getWallet(read.db, walletId)
    const address = r?.state.addresses[addressId]
    return r && address ? { ...r, state: address } : undefined
  }

  app.post(
    '/wallets/address',
    {
      config: { roles: ['backend'], idempotent: true },
      schema: {
        tags: ['wallets'],
        summary: 'Request a deposit address for a wallet on a chain',
        headers: idempotencyHeaders,
        body: depositAddressCommand.pick({ walletId: true }).extend({ chain }).strict(),
        response: { ...createdResponses(addressBody, 'resource'), ...commandErrorsFor([['wallet_not_found', 'wallet 3f0c6d2e-8a4b-4c1d-9e2f-5a6b7c8d9e0f does not exist'], ['wallet_not_active', 'wallet 3f0c6d2e-8a4b-4c1d-9e2f-5a6b7c8d9e0f is pending, not active'], ['unsupported_chain', 'chain DOGE is not supported (supported: ETH, POLY, ARB, BASE, AVAX, OP, CELO, SOL, XLM, ALGO, TRX, HBAR, NEAR)']]) },
      },
    },
    async (request, reply) => {
      const addressId = derivedId(request, 'address')
      const { walletId, chain } = request.body
      const command = { walletId, addressId, chain, ...(maxAddressesPerWallet === undefined ? {} : { maxAddresses: maxAddressesPerWallet }) }
      await read.caughtUp(await create(store, requestDepositAddress, command, request, addressId))
      const created = await readAddress(walletId, addressId)
      if (!created) throw notFound('address', addressId)
      const resource = await waitIfAsked(request, created, () => readAddress(walletId, addressId), (a) => a.status !== 'pending')
      return answerCreated(request, reply, { terminal: resource.state.status !== 'pending', creates: 'resource', location: `/wallets/${walletId}/addresses/${addressId}` }).send(toAddress(walletId, resource.state))
    },
  )

  app.get(
    '/wallets/:walletId/addresses/:addressId',
    {
      config: { roles: ['backend', 'auditor'] },
      schema: {
        tags: ['wallets'],
        summary: 'One deposit address of a wallet',
        params: z.object({ walletId: id, addressId: id }),
        response: { 200: addressBody.describe('The deposit address as it is now'), ...readErrors },
      },
    },
    async (request) => {
      const { walletId, addressId } = request.params
      const resource = await readAddress(walletId, addressId)
      if (!resource) throw notFound('address', addressId)
      return toAddress(walletId, resource.state)
    },
  )
}
