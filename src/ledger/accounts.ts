/**
 * The journal's accounts. Balances are what an account received minus what it gave, in
 * micro-units; over all accounts they sum to zero.
 */
export const TREASURY = 'circle:treasury'
export const availableAccount = (walletId: string) => `wallet:${walletId}:available`
export const heldAccount = (walletId: string) => `wallet:${walletId}:held`
export const bankAccount = (bankAccountId: string) => `bank:${bankAccountId}`
export const chainAccount = (chain: string) => `chain:${chain}`

const WALLET = /^wallet:(.+):(available|held)$/

/** The wallet an account belongs to, if it is a wallet account. */
export function walletOf(account: string): string | undefined {
  return WALLET.exec(account)?.[1]
}

/** Shape of a well-formed account name (routes refuse anything else). */
export const ACCOUNT_PATTERN = /^(circle:treasury|wallet:[A-Za-z0-9-]{1,64}:(available|held)|bank:[A-Za-z0-9-]{1,64}|chain:[A-Za-z0-9_-]{1,32})$/
