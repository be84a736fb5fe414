import t from 'tap'
import { ConfigError, loadConfig } from '../src/config.ts'

t.test('the defaults describe the embedded local setup', async (t) => {
  const config = loadConfig({})
  t.equal(config.PORT, 3000)
  t.equal(config.EVENT_STORE, 'postgres')
  t.equal(config.NATS_URL, 'nats://127.0.0.1:4222')
  t.match(config.DATABASE_URL, /^postgres:\/\/.*127\.0\.0\.1:5432\//)
  t.equal(config.CIRCLE_API_KEY, undefined, 'no key means the embedded simulator')
  t.equal(config.API_KEYS, undefined)
})

t.test('a bad value is refused with a message naming the variable', async (t) => {
  const cases: [Record<string, string>, RegExp][] = [
    [{ PORT: 'abc' }, /PORT/],
    [{ PORT: '70000' }, /PORT/],
    [{ DATABASE_URL: 'not a url' }, /DATABASE_URL/],
    [{ EVENT_STORE: 'mysql' }, /EVENT_STORE/],
    [{ EVENT_STORE: 'kurrentdb' }, /KURRENTDB_CONNECTION_STRING/],
    [{ LOG_LEVEL: 'loud' }, /LOG_LEVEL/],
    [{ LOG_FORMAT: 'xml' }, /LOG_FORMAT/],
    [{ API_KEYS: 'ci:backend:nothex' }, /API_KEYS/],
    [{ API_KEYS: 'ci:root:' + 'a'.repeat(64) }, /API_KEYS/],
    [{ NODE_ENV: 'production' }, /API_KEYS: required in production/],
    [{ NODE_ENV: 'production', API_KEYS: 'ci:backend:' + 'a'.repeat(64) }, /CIRCLE_API_KEY: required in production/],
    [{ NODE_ENV: 'production', API_KEYS: 'ci:backend:' + 'a'.repeat(64), CIRCLE_API_KEY: '' }, /CIRCLE_API_KEY: required in production/],
    [{ SIMULATOR_CONTROL_TOKEN: 'short' }, /SIMULATOR_CONTROL_TOKEN/],
    [{ MAX_DEPOSIT_ADDRESSES_PER_WALLET: '0' }, /MAX_DEPOSIT_ADDRESSES_PER_WALLET/],
    [{ IDEMPOTENCY_LOCK_SECONDS: '1' }, /IDEMPOTENCY_LOCK_SECONDS/],
    [{ CIRCLE_API_KEY: 'SAND_KEY' }, /CIRCLE_BASE_URL/],
    [{ CIRCLE_API_KEY: 'SAND_KEY', CIRCLE_BASE_URL: 'https://api-sandbox.circle.com' }, /CARD_ISSUER_URL/],
    [{ CARD_ISSUER_URL: 'https://issuer.example' }, /CARD_ISSUER_API_KEY/],
    [{ MAX_AMOUNT: '1e6' }, /MAX_AMOUNT: expected a decimal amount such as "1000000.00"$/],
    [{ MAX_AMOUNT: '0' }, /MAX_AMOUNT: expected an amount greater than 0/],
    [{ MAX_AMOUNT: '0.000000' }, /MAX_AMOUNT/],
    [{ MAX_AMOUNT: '007' }, /MAX_AMOUNT/],
    [{ NATS_STREAM_MAX_AGE: '30 days' }, /NATS_STREAM_MAX_AGE: expected a duration/],
    [{ NATS_DUPLICATE_WINDOW: '1m' }, /NATS_DUPLICATE_WINDOW: must be at least 2m/],
    [{ NATS_DUPLICATE_WINDOW: '2d', NATS_STREAM_MAX_AGE: '1d' }, /NATS_DUPLICATE_WINDOW: must not exceed NATS_STREAM_MAX_AGE/],
    [{ NATS_SUBJECT_PREFIX: 'ledger.>' }, /NATS_SUBJECT_PREFIX/],
    [{ NATS_STREAM: 'LEDGER.X' }, /NATS_STREAM/],
    [{ AUDIT_HEAD_INTERVAL: '10ms' }, /AUDIT_HEAD_INTERVAL/],
  ]
  for (const [env, message] of cases) {
    t.throws(() => loadConfig(env), ConfigError, `${JSON.stringify(env)} is refused`)
    t.throws(() => loadConfig(env), { message }, `${JSON.stringify(env)} names the variable`)
  }
})

t.test('production with a Circle key, an issuer and API keys starts', async (t) => {
  const config = loadConfig({
    NODE_ENV: 'production',
    API_KEYS: 'ci:backend:' + 'a'.repeat(64),
    CIRCLE_API_KEY: 'LIVE_KEY',
    CIRCLE_BASE_URL: 'https://api.circle.com',
    CARD_ISSUER_URL: 'https://issuer.example',
    CARD_ISSUER_API_KEY: 'issuer-key',
  })
  t.equal(config.CIRCLE_API_KEY, 'LIVE_KEY')
})

t.test('NATS stream settings default to LEDGER on ledger.v1, 30 days kept, a 1 hour duplicate window, heads every minute', async (t) => {
  const config = loadConfig({})
  t.equal(config.NATS_STREAM, 'LEDGER')
  t.equal(config.NATS_SUBJECT_PREFIX, 'ledger.v1')
  t.equal(config.NATS_STREAM_MAX_AGE, 30 * 86_400_000)
  t.equal(config.NATS_DUPLICATE_WINDOW, 3_600_000)
  t.equal(config.AUDIT_HEAD_INTERVAL, 60_000)
  const custom = loadConfig({ NATS_STREAM_MAX_AGE: '7d', NATS_DUPLICATE_WINDOW: '90m', AUDIT_HEAD_INTERVAL: '15s', NATS_PUBLISH_TIMEOUT: '750ms' })
  t.equal(custom.NATS_STREAM_MAX_AGE, 7 * 86_400_000)
  t.equal(custom.NATS_DUPLICATE_WINDOW, 90 * 60_000)
  t.equal(custom.AUDIT_HEAD_INTERVAL, 15_000)
  t.equal(custom.NATS_PUBLISH_TIMEOUT, 750)
})

t.test('API keys parse into name, role and hash', async (t) => {
  const hash = 'ab'.repeat(32)
  const config = loadConfig({ API_KEYS: `mirror:backend:${hash}, audit:auditor:${hash}` })
  t.same(config.API_KEYS, [
    { name: 'mirror', role: 'backend', sha256: hash },
    { name: 'audit', role: 'auditor', sha256: hash },
  ])
})

t.test('webhook and retry settings: defaults, SNS topics and simulator schemes parse, bad values are refused by name', async (t) => {
  const defaults = loadConfig({})
  t.same(defaults.SIMULATOR_WEBHOOKS, ['v2', 'v1'])
  t.equal(defaults.CIRCLE_SNS_TOPIC_ARNS, undefined)
  t.equal(defaults.WEBHOOK_MAX_ATTEMPTS, 12)
  t.equal(defaults.TASK_MAX_ATTEMPTS, 10)
  t.equal(defaults.TASK_MAX_AGE, 3600)
  const topics = 'arn:aws:sns:us-east-1:908968368384:sandbox_platform-notifications-topic, arn:aws:sns:us-west-2:908968368384:sandbox_platform-notifications-topic'
  const config = loadConfig({ CIRCLE_SNS_TOPIC_ARNS: topics, SIMULATOR_WEBHOOKS: 'none' })
  t.same(config.CIRCLE_SNS_TOPIC_ARNS, topics.split(',').map((s) => s.trim()))
  t.same(config.SIMULATOR_WEBHOOKS, [])
  for (const [env, message] of [
    [{ CIRCLE_SNS_TOPIC_ARNS: 'not-an-arn' }, /CIRCLE_SNS_TOPIC_ARNS/],
    [{ SIMULATOR_WEBHOOKS: 'v3' }, /SIMULATOR_WEBHOOKS/],
    [{ WEBHOOK_MAX_ATTEMPTS: '0' }, /WEBHOOK_MAX_ATTEMPTS/],
    [{ TASK_MAX_AGE: 'an hour' }, /TASK_MAX_AGE/],
  ] as [Record<string, string>, RegExp][]) t.throws(() => loadConfig(env), { message }, JSON.stringify(env))
})
