import t from 'tap'
import { logSteps, stepMessage } from '../src/logger.ts'
import { Metrics } from '../src/metrics.ts'
import { capturedLogger } from './helpers/logs.ts'

t.test('JSON is the default, one object per line with an ISO-8601 timestamp', async (t) => {
  const { logger, lines } = capturedLogger('info')
  logger.info({ walletId: 'w-1' }, 'hello')
  t.equal(lines.length, 1)
  t.match(lines[0], { msg: 'hello', walletId: 'w-1', service: 'circle-ledger', level: 30 })
  t.match(String(lines[0]?.time), /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/)
})

t.test('LOG_FORMAT=pretty writes lines for a person, not JSON', async (t) => {
  const { logger, text } = capturedLogger('info', 'pretty')
  logger.info({ mintId: 'm-1' }, 'mint submitted')
  const out = text()
  t.match(out, /INFO.*mint submitted/)
  t.match(out, /mintId: "m-1"/)
  t.throws(() => JSON.parse(out.trim()), 'not a JSON line')
})

t.test('secrets and account numbers are redacted', async (t) => {
  const { logger, lines } = capturedLogger('info')
  logger.info({ details: { accountNumber: '123456789012' }, req: { headers: { authorization: 'Bearer dev-admin-key' } } }, 'x')
  t.notMatch(JSON.stringify(lines), /123456789012|dev-admin-key/)
})

t.test('each recorded step is logged once at info with the operation id, Circle’s id and a failure code; balance movements are not steps', async (t) => {
  const { logger, lines } = capturedLogger('info')
  const metrics = new Metrics()
  logSteps(
    logger,
    [
      { stream: 'mint-m1', events: [{ type: 'MintSubmitted', data: { mintId: 'm1', circleTransferId: 'ct-9' } }] },
      { stream: 'wallet-w1', events: [{ type: 'FundsCredited', data: { walletId: 'w1', operationId: 'm1', amount: '1', source: 'mint' } }] },
      { stream: 'redeem-r1', events: [{ type: 'RedeemFailed', data: { redeemId: 'r1', failure: { code: 'circle_1093', message: 'Insufficient funds.' } } }] },
    ],
    { operationId: 'm1', actor: 'process-manager' },
    metrics,
  )
  t.equal(lines.length, 2)
  t.match(lines[0], { level: 30, msg: 'mint submitted', operationId: 'm1', stream: 'mint-m1', circleTransferId: 'ct-9', actor: 'process-manager' })
  t.match(lines[1], { msg: 'redeem failed: circle_1093', failureCode: 'circle_1093' })
  logSteps(logger, [], { operationId: 'm1', actor: 'x' }, metrics)
  t.equal(lines.length, 2, 'nothing appended, nothing logged')
  const text = await metrics.registry.metrics()
  t.match(text, /ledger_operations_total\{kind="mint",status="processing"\} 1/)
  t.match(text, /ledger_operations_total\{kind="redeem",status="failed"\} 1/)
  t.equal(stepMessage('WalletCreationRequested'), 'wallet creation requested')
})
