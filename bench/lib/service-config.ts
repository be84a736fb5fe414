import { loadConfig } from '../../src/config.ts'

/**
 * The service as the command benchmarks run it: every limit out of the way (rate limits, Circle's
 * client-side rate), Circle simulated and settling at once, silent logs. Admission control stays
 * at its default unless `admission: false`.
 */
export const benchServiceConfig = (databaseUrl: string, options: { admission?: boolean } = {}) =>
  loadConfig({
    ...(options.admission === false ? { ADMISSION_BACKLOG_LIMIT: '0' } : {}),
    DATABASE_URL: databaseUrl,
    PORT: '0',
    HOST: '127.0.0.1',
    LOG_LEVEL: 'silent',
    NODE_ENV: 'development',
    RATE_LIMIT_MAX: '100000000',
    SIMULATOR_SETTLE_MS: '0',
    // The embedded simulator signs every webhook in the service's process; SNS's RSA signatures (v1)
    // are the simulator's cost, not the ledger's, so it delivers one scheme, v2, as Circle would to one subscription.
    SIMULATOR_WEBHOOKS: 'v2',
    CIRCLE_POLL_INTERVAL_MS: '50',
    CIRCLE_RATE_PER_SECOND: '1000',
  })
