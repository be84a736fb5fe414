import t from 'tap'
import { httpHarness } from '../helpers/http.ts'

const rank: Record<string, number> = { pending: 0, processing: 1, active: 1, completed: 2, failed: 2 }

t.test('200 POST-then-GET pairs at 16 concurrent clients: no 404, no GET older than its POST', async (t) => {
  const h = await httpHarness(t)
  const walletIds = await Promise.all(Array.from({ length: 4 }, (_, i) => h.activeWallet(`owner-${i}`, '1000')))
  const problems: string[] = []
  let pairs = 0
  const client = async (c: number) => {
    for (let i = 0; i < 200 / 16 + 1 && pairs < 200; i++) {
      pairs++
      const walletId = walletIds[(c + i) % walletIds.length]!
      const kind = (c + i) % 4
      const post =
        kind === 0
          ? await h.post('/wallets', { ownerId: `rw-${c}` })
          : kind === 1
            ? await h.post('/mint', { walletId, amount: '1.25' })
            : kind === 2
              ? await h.post('/transfers', { sourceWalletId: walletId, destination: { type: 'blockchain', chain: 'SOL', address: '4Nd1mBQtrMJVYVfKf2PJy9NZUZdTAsp7D4xWLs4gDB4T' }, amount: '0.50' })
              : await h.post('/cards', { walletId, cardholderName: 'Ada' })
      if (post.statusCode !== 202) {
        problems.push(`POST ${post.statusCode} ${post.body}`)
        continue
      }
      const answered = post.json()
      const get = await h.get(post.headers.location as string)
      if (get.statusCode !== 200) problems.push(`GET ${post.headers.location} answered ${get.statusCode}`)
      else if (rank[get.json().status]! < rank[answered.status]!) problems.push(`GET ${post.headers.location} shows ${get.json().status}, POST said ${answered.status}`)
    }
  }
  await Promise.all(Array.from({ length: 16 }, (_, c) => client(c)))
  t.ok(pairs >= 200, `${pairs} pairs`)
  t.same(problems, [], 'every GET saw its POST')
})
