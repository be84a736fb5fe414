import t from 'tap'
import { auth } from '../../helpers/app.ts'
import { httpHarness } from '../../helpers/http.ts'

t.test('/metrics reports requests by route and status, append latency and subscriber lag', async (t) => {
  const { app, post, deps } = await httpHarness(t)
  await post('/wallets', { ownerId: 'x' })
  deps.metrics.appendDuration.observe(0.002)
  deps.metrics.trackLag('projections', async () => 7)
  const res = await app.inject({ method: 'GET', url: '/metrics', headers: auth.auditor })
  t.equal(res.statusCode, 200)
  t.match(res.headers['content-type'], /text\/plain/)
  t.match(res.body, /http_requests_total\{route="\/wallets",method="POST",status="202"\} 1/)
  t.match(res.body, /http_request_duration_seconds_bucket\{le="[0-9.]+",route="\/wallets",method="POST",status="202"\}/)
  t.match(res.body, /event_store_append_seconds_count 1/)
  t.match(res.body, /subscriber_lag_events\{subscriber="projections"\} 7/)
})
