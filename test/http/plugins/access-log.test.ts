import t from 'tap'
import { auth } from '../../helpers/app.ts'
import { httpHarness } from '../../helpers/http.ts'
import { capturedLogger } from '../../helpers/logs.ts'

t.test('one access-log line per request, with route, status, duration, caller and error code', async (t) => {
  const { logger, lines } = capturedLogger('info')
  const { app, post } = await httpHarness(t, { logger })
  const accessLines = () => lines.filter((l) => 'durationMs' in l)
  const start = lines.length
  const created = await post('/wallets', { ownerId: 'log-owner' })
  t.equal(created.statusCode, 202)
  const forCreate = lines.slice(start).filter((l) => l.reqId === created.headers['x-request-id'])
  const access = forCreate.filter((l) => 'durationMs' in l)
  t.equal(access.length, 1, 'exactly one access line')
  t.match(access[0], { level: 30, method: 'POST', route: '/wallets', status: 202, caller: 'dev-backend' })
  t.type(access[0]?.durationMs, 'number')
  t.notOk(forCreate.some((l) => l.msg === 'incoming request' || l.msg === 'request completed'), 'no Fastify request pair')
  t.ok(forCreate.some((l) => l.msg === 'wallet creation requested' && l.operationId === created.json().id), 'the step is logged with its operation id')

  const before = accessLines().length
  const refused = await app.inject({ method: 'GET', url: '/mints/nope', headers: auth.backend })
  t.equal(refused.statusCode, 400)
  const refusedLines = lines.filter((l) => l.reqId === refused.headers['x-request-id'])
  t.equal(refusedLines.length, 1, 'a refused request is one line too')
  t.match(refusedLines[0], { status: 400, errorCode: 'validation_failed', level: 30 })
  await app.inject({ method: 'GET', url: '/health' })
  t.equal(accessLines().length, before + 1, 'health probes are not logged at info')
})
