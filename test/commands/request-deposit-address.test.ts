import t from 'tap'
import { requestDepositAddress } from '../../src/commands/request-deposit-address.ts'
import type { WalletEvent } from '../../src/events/wallet.ts'
import { spec } from '../helpers/spec.ts'
import { activeWallet, ids, pendingWallet } from '../helpers/fixtures.ts'

const command = { walletId: ids.wallet, addressId: ids.address, chain: 'SOL' }

t.test('an active wallet gets a deposit address request on a supported chain', async (t) => {
  spec(t, requestDepositAddress).given({ wallet: activeWallet() }).when(command).then({ wallet: [{ type: 'DepositAddressRequested', data: command }] })
})

t.test('an unknown wallet is rejected with wallet_not_found', async (t) => {
  spec(t, requestDepositAddress).when(command).thenRejects('wallet_not_found')
})

t.test('a pending wallet is rejected with wallet_not_active', async (t) => {
  spec(t, requestDepositAddress).given({ wallet: pendingWallet() }).when(command).thenRejects('wallet_not_active')
})

t.test('an unsupported chain is rejected with unsupported_chain', async (t) => {
  spec(t, requestDepositAddress).given({ wallet: activeWallet() }).when({ ...command, chain: 'DOGE' }).thenRejects('unsupported_chain')
  spec(t, requestDepositAddress).given({ wallet: activeWallet() }).when({ ...command, chain: 'sol' }).thenRejects('unsupported_chain', 'chain codes are exact')
})

t.test('reusing an address id is rejected with already_exists', async (t) => {
  spec(t, requestDepositAddress)
    .given({ wallet: [...activeWallet(), { type: 'DepositAddressRequested', data: command }] })
    .when(command)
    .thenRejects('already_exists')
})

t.test('a wallet at its address limit is refused with deposit_address_limit; failed addresses do not count', async (t) => {
  const requested = (n: number) => ({ type: 'DepositAddressRequested' as const, data: { walletId: ids.wallet, addressId: `00000000-0000-4000-8000-00000000000${n}`, chain: 'SOL' } })
  const two: WalletEvent[] = [...activeWallet(), requested(1), requested(2)]
  spec(t, requestDepositAddress).given({ wallet: two }).when({ ...command, maxAddresses: 2 }).thenRejects('deposit_address_limit')
  spec(t, requestDepositAddress).given({ wallet: two }).when({ ...command, maxAddresses: 3 }).then({ wallet: [{ type: 'DepositAddressRequested', data: command }] }, 'below the limit is fine')
  const oneFailed: WalletEvent[] = [
    ...two,
    { type: 'DepositAddressFailed', data: { walletId: ids.wallet, addressId: '00000000-0000-4000-8000-000000000001', chain: 'SOL', failure: { code: 'circle_2', message: 'x' } } },
  ]
  spec(t, requestDepositAddress).given({ wallet: oneFailed }).when({ ...command, maxAddresses: 2 }).then({ wallet: [{ type: 'DepositAddressRequested', data: command }] }, 'a failed address frees its place')
})
