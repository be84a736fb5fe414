import { existsSync } from 'node:fs'
import t from 'tap'
import { testApp } from '../helpers/app.ts'

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'

// Printed so a run without a browser says so rather than passing silently; .ci/run installs Debian's chromium.
const skip = existsSync(CHROMIUM) ? false : `no Chromium at ${CHROMIUM} (apt-get install -y chromium)`
if (skip) console.log(`# SKIP the /docs browser test: ${skip}`)

t.test('/docs renders in headless Chromium: the operations list with routes, summaries and response descriptions', { skip }, async (t) => {
  const { chromium } = await import('playwright-core')
  const { app } = await testApp(t)
  const url = await app.listen({ port: 0, host: '127.0.0.1' })
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  })
  t.teardown(() => browser.close())
  const page = await browser.newPage()
  const failed: string[] = []
  page.on('requestfailed', (r) => failed.push(r.url()))
  await page.goto(`${url}/docs`, { waitUntil: 'load' })
  await page.waitForSelector('.opblock-summary-path', { timeout: 30_000 })

  const paths = await page.$$eval('.opblock-summary-path', (els) => els.map((e) => e.getAttribute('data-path') ?? e.textContent?.trim() ?? ''))
  for (const path of ['/wallets', '/wallets/{id}', '/wallets/address', '/bank-accounts', '/mint', '/mints/{id}', '/redeem', '/transfers', '/cards', '/cards/{id}/freeze', '/health']) {
    t.ok(paths.includes(path), `the operations list shows ${path}`)
  }
  const summaries = await page.$$eval('.opblock-summary-description', (els) => els.map((e) => e.textContent?.trim() ?? ''))
  t.ok(summaries.includes('Mint USDC into a wallet from the treasury'), 'summaries are shown')
  t.match(await page.textContent('.information-container'), /Idempotency-Key/, 'the API description is shown')

  await page.click('#operations-mint-mint .opblock-summary')
  await page.waitForSelector('#operations-mint-mint .responses-table')
  const responses = await page.textContent('#operations-mint-mint .responses-wrapper')
  t.match(responses, 'Accepted; the operation runs asynchronously', 'the 202 description')
  t.match(responses, 'rate_limited', 'error examples')
  t.match(await page.textContent('#operations-mint-mint'), 'Roles: backend, admin.', 'the roles')
  t.same(failed, [], 'every asset loaded')
})
