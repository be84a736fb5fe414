import { z } from 'zod'
import { parseAmount } from './events/money.ts'

/** Thrown when the environment does not describe a runnable service; the message names the variable. */
export class ConfigError extends Error {
  override name = 'ConfigError'
}

const apiKeyEntry = z
  .string()
  .regex(/^[A-Za-z0-9_.-]+:(backend|auditor|admin):[0-9a-f]{64}$/, 'expected name:role:sha256hex')

const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const

/** A duration such as `500ms`, `60s`, `5m`, `2h` or `30d` (a bare number is milliseconds), in milliseconds. */
const duration = z
  .string()
  .regex(/^[0-9]+(ms|s|m|h|d)?$/, 'expected a duration such as 60s, 5m, 2h or 30d')
  .transform((value) => {
    const unit = /(ms|s|m|h|d)$/.exec(value)?.[1] ?? 'ms'
    return Number.parseInt(value, 10) * UNIT_MS[unit as keyof typeof UNIT_MS]
  })

const decimalAmount = z.string().regex(/^\d+(\.\d{1,6})?$/, { message: 'expected a decimal amount such as "1000000.00"', abort: true })
/** An amount the service parses as money (MAX_AMOUNT): refused here, with the variable's name, rather than at start-up. */
const positiveAmount = decimalAmount.refine((value) => {
  try {
    return parseAmount(value) > 0n
  } catch {
    return false
  }
}, 'expected an amount greater than 0, without leading zeros, such as "1000000.00"')

const schema = z
  .object({
    PORT: z.coerce.number().int().min(0).max(65535).default(3000),
    HOST: z.string().min(1).default('0.0.0.0'),
    DATABASE_URL: z.url().default('postgres://postgres@127.0.0.1:5432/circle_ledger'),
    NATS_URL: z.string().regex(/^(nats|tls|ws|wss):\/\/\S+$/, 'expected nats://host:port').default('nats://127.0.0.1:4222'),
    NATS_STREAM: z.string().regex(/^[A-Za-z0-9_-]+$/, 'expected a JetStream stream name').default('LEDGER'),
    NATS_SUBJECT_PREFIX: z
      .string()
      .regex(/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/, 'expected dot-separated subject tokens such as ledger.v1')
      .default('ledger.v1'),
    NATS_STREAM_MAX_AGE: duration.default(duration.parse('30d')),
    /** JetStream drops a repeated Nats-Msg-Id within this window; it covers the notifier's republishing after a retry or a restart. */
    NATS_DUPLICATE_WINDOW: duration.default(duration.parse('1h')),
    NATS_PUBLISH_TIMEOUT: duration.default(duration.parse('5s')),
    AUDIT_HEAD_INTERVAL: duration.default(duration.parse('60s')),
    EVENT_STORE: z.enum(['postgres', 'kurrentdb']).default('postgres'),
    KURRENTDB_CONNECTION_STRING: z.string().regex(/^(kurrentdb|esdb|kdb|kurrent)(\+discover)?:\/\//, 'expected kurrentdb://...').optional(),
    CIRCLE_API_KEY: z.string().min(1).optional(),
    CIRCLE_BASE_URL: z.url().optional(),
    API_KEYS: z
      .string()
      .optional()
      .transform((value, ctx) => {
        if (value === undefined || value.trim() === '') return undefined
        const entries = value.split(',').map((s) => s.trim())
        for (const entry of entries) {
          const parsed = apiKeyEntry.safeParse(entry)
          if (!parsed.success) {
            ctx.addIssue({ code: 'custom', message: `bad entry "${entry.split(':')[0]}": expected name:role:sha256hex` })
            return z.NEVER
          }
        }
        return entries.map((entry) => {
          const [name, role, sha256] = entry.split(':') as [string, 'backend' | 'auditor' | 'admin', string]
          return { name, role, sha256 }
        })
      }),
    LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    LOG_FORMAT: z.enum(['json', 'pretty']).default('json'),
    NODE_ENV: z.enum(['development', 'test', 'production']).default('development'),
    MAX_AMOUNT: positiveAmount.default('1000000'),
    IDEMPOTENCY_TTL_HOURS: z.coerce.number().int().min(24).default(24),
    RATE_LIMIT_MAX: z.coerce.number().int().min(1).default(600),
    RATE_LIMIT_WINDOW_MS: z.coerce.number().int().min(1000).default(60_000),
    CIRCLE_POLL_INTERVAL_MS: z.coerce.number().int().min(10).default(5000),
    CIRCLE_TIMEOUT_MS: z.coerce.number().int().min(100).default(10_000),
    CIRCLE_RATE_PER_SECOND: z.coerce.number().positive().default(8),
    CARD_ISSUER_URL: z.url().optional(),
    CARD_ISSUER_API_KEY: z.string().min(1).optional(),
    SIMULATOR_SETTLE_MS: z.coerce.number().int().min(0).default(1000),
    /** Which webhook schemes the embedded simulator delivers to this service's /webhook (`none` for polling only). */
    SIMULATOR_WEBHOOKS: z
      .string()
      .regex(/^(none|(v1|v2)(,(v1|v2))*)$/, 'expected v2, v1, v2,v1 or none')
      .default('v2,v1')
      .transform((v) => (v === 'none' ? [] : [...new Set(v.split(','))] as ('v1' | 'v2')[])),
    WEBHOOK_MAX_ATTEMPTS: z.coerce.number().int().min(1).default(12),
    WEBHOOK_RETRY_BASE_MS: z.coerce.number().int().min(1).default(50),
    WEBHOOK_RATE_LIMIT_MAX: z.coerce.number().int().min(1).default(1200),
    /** SNS topics (v1) we subscribed to, comma-separated; notifications from others are refused. */
    CIRCLE_SNS_TOPIC_ARNS: z
      .string()
      .optional()
      .transform((v) => (v === undefined ? undefined : v.split(',').map((s) => s.trim()).filter((s) => s !== '')))
      .pipe(z.array(z.string().regex(/^arn:aws(-cn)?:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]+$/, 'expected arn:aws:sns:<region>:<account>:<topic>')).optional()),
    /** Poll interval while webhooks arrive (polling is then only the fallback). */
    CIRCLE_POLL_INTERVAL_WITH_WEBHOOKS_MS: z.coerce.number().int().min(10).default(60_000),
    /**
     * With the server's autovacuum off, how often the service analyzes (and vacuums) its own tables
     * (ms); 0 never. Ignored while autovacuum is on.
     */
    DB_MAINTENANCE_INTERVAL_MS: z.coerce.number().int().min(0).default(60_000),
    /**
     * New operations (POST /wallets, /mint, /redeem, /transfers, /cards) wait while this many
     * process-manager tasks are due and not yet run; 0 turns admission control off.
     */
    ADMISSION_BACKLOG_LIMIT: z.coerce.number().int().min(0).default(200),
    /** How long a new operation waits for room before it is refused with 503 overloaded (ms). */
    ADMISSION_WAIT_MS: z.coerce.number().int().min(0).default(5000),
    TASK_MAX_ATTEMPTS: z.coerce.number().int().min(1).default(10),
    /** Seconds a process-manager task may keep failing before it becomes a dead letter. */
    TASK_MAX_AGE: z.coerce.number().int().min(1).default(3600),
    SIMULATOR_TREASURY: decimalAmount.default('1000000.00'),
    SIMULATOR_CONTROL_TOKEN: z.string().min(16, 'at least 16 characters').optional(),
    UNAUTHENTICATED_RATE_LIMIT_MAX: z.coerce.number().int().min(1).default(60),
    TRUST_PROXY: z
      .string()
      .regex(/^(true|false|\d+|[0-9a-fA-F.:/,\s]+)$/, 'expected true, false, a hop count or comma-separated proxy addresses')
      .transform((v) => (v === 'true' ? true : v === 'false' ? false : /^\d+$/.test(v) ? Number(v) : v))
      .optional(),
    HTTP_REQUEST_TIMEOUT_MS: z.coerce.number().int().min(1000).default(15_000),
    HTTP_CONNECTION_TIMEOUT_MS: z.coerce.number().int().min(1000).default(65_000),
    IDEMPOTENCY_LOCK_SECONDS: z.coerce.number().int().min(5).default(60),
    MAX_DEPOSIT_ADDRESSES_PER_WALLET: z.coerce.number().int().min(1).default(20),
    CARD_ACTION_WAIT_MS: z.coerce.number().int().min(0).default(5000),
    LEASE_RETRY_MS: z.coerce.number().int().min(50).default(2000),
    /** How often the reconciler role runs a reconciliation. */
    RECONCILE_INTERVAL: duration.default(300_000),
    /** An operation not terminal after this long is looked up at Circle by a run. */
    RECONCILE_STALE_AFTER: duration.default(900_000),
    /** Circle resources younger than this are left to the next run (our record of them may still be on its way). */
    RECONCILE_GRACE: duration.default(60_000),
  })
  .superRefine((env, ctx) => {
    if (env.EVENT_STORE === 'kurrentdb' && !env.KURRENTDB_CONNECTION_STRING) {
      ctx.addIssue({ code: 'custom', path: ['KURRENTDB_CONNECTION_STRING'], message: 'required when EVENT_STORE=kurrentdb' })
    }
    if (env.CIRCLE_API_KEY && !env.CIRCLE_BASE_URL) {
      ctx.addIssue({ code: 'custom', path: ['CIRCLE_BASE_URL'], message: 'required when CIRCLE_API_KEY is set' })
    }
    if (env.CIRCLE_API_KEY && !env.CARD_ISSUER_URL) {
      ctx.addIssue({ code: 'custom', path: ['CARD_ISSUER_URL'], message: 'required when CIRCLE_API_KEY is set (Circle has no card issuing)' })
    }
    if (env.CARD_ISSUER_URL && !env.CARD_ISSUER_API_KEY) {
      ctx.addIssue({ code: 'custom', path: ['CARD_ISSUER_API_KEY'], message: 'required when CARD_ISSUER_URL is set' })
    }
    // The embedded simulator "completes" mints against a fake treasury: production must never run on it.
    if (env.NODE_ENV === 'production' && !env.CIRCLE_API_KEY) {
      ctx.addIssue({ code: 'custom', path: ['CIRCLE_API_KEY'], message: 'required in production (the embedded Circle simulator is refused)' })
    }
    if (env.NATS_DUPLICATE_WINDOW > env.NATS_STREAM_MAX_AGE) {
      ctx.addIssue({ code: 'custom', path: ['NATS_DUPLICATE_WINDOW'], message: 'must not exceed NATS_STREAM_MAX_AGE' })
    }
    if (env.NATS_DUPLICATE_WINDOW < 120_000) {
      ctx.addIssue({ code: 'custom', path: ['NATS_DUPLICATE_WINDOW'], message: 'must be at least 2m (it covers republishing after a retry or restart)' })
    }
    if (env.NATS_PUBLISH_TIMEOUT < 100) {
      ctx.addIssue({ code: 'custom', path: ['NATS_PUBLISH_TIMEOUT'], message: 'must be at least 100ms' })
    }
    if (env.AUDIT_HEAD_INTERVAL < 1000) {
      ctx.addIssue({ code: 'custom', path: ['AUDIT_HEAD_INTERVAL'], message: 'must be at least 1s' })
    }
    if (env.NODE_ENV === 'production' && !env.API_KEYS) {
      ctx.addIssue({ code: 'custom', path: ['API_KEYS'], message: 'required in production (development keys are refused)' })
    }
  })

export type Config = z.infer<typeof schema>

/** Reads and validates the environment; a bad value throws a ConfigError naming each variable at fault. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''))
  const parsed = schema.safeParse(present)
  if (!parsed.success) {
    const lines = parsed.error.issues.map((issue) => `${issue.path.join('.') || 'environment'}: ${issue.message}`)
    throw new ConfigError(`invalid configuration:\n  ${lines.join('\n  ')}`)
  }
  return parsed.data
}
