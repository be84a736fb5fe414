import pino, { type Logger } from 'pino'
import pretty from 'pino-pretty'
import type { NewEvent } from './events/event-store.ts'
import type { Metrics } from './metrics.ts'

/** Paths pino censors wherever they appear in a log line: credentials and bank/card numbers. */
export const redactPaths = [
  'req.headers.authorization',
  'req.headers["x-api-key"]',
  'headers.authorization',
  '*.authorization',
  '*.apiKey',
  '*.api_key',
  '*.secret',
  '*.password',
  '*.accountNumber',
  '*.iban',
  '*.cardNumber',
  '*.pan',
  '*.cvv',
  '*.*.accountNumber',
  '*.*.iban',
  '*.*.cardNumber',
  '*.*.cvv',
]

export type LogFormat = 'json' | 'pretty'

/**
 * JSON lines with ISO-8601 timestamps (for production and log shippers), or `pretty` for a person
 * at a terminal. Pretty printing runs in-process (not a worker transport) so the last lines before
 * an exit are never lost.
 */
export function createLogger(level: string, options: { format?: LogFormat; destination?: pino.DestinationStream } = {}): Logger {
  const destination =
    options.format === 'pretty'
      ? pretty({ destination: options.destination ?? 1, colorize: options.destination === undefined && process.stdout.isTTY, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname,service', sync: true })
      : options.destination
  return pino(
    { level, redact: { paths: redactPaths, censor: '[redacted]' }, base: { service: 'circle-ledger' }, timestamp: pino.stdTimeFunctions.isoTime },
    destination,
  )
}

/** Balance movements are logged with the operation that caused them, not as steps of their own. */
const NOT_A_STEP = /^(Funds|Reservation)/

/**
 * Logs each lifecycle step an append recorded, once, at info: "mint submitted" with the operation's
 * id, Circle's id where the event has one, and the failure code of a failure. Called only with
 * what was actually appended, so a repeated command or a replayed step logs nothing.
 */
export function logSteps(
  logger: Pick<Logger, 'info'>,
  appended: { stream: string; events: Pick<NewEvent, 'type' | 'data'>[] }[],
  context: { operationId: string; actor: string },
  metrics?: Pick<Metrics, 'countSteps'>,
): void {
  metrics?.countSteps(appended)
  for (const { stream, events } of appended) {
    for (const event of events) {
      if (NOT_A_STEP.test(event.type)) continue
      const data = event.data as Record<string, unknown>
      const fields: Record<string, unknown> = { operationId: context.operationId, stream, event: event.type, actor: context.actor }
      for (const [key, value] of Object.entries(data)) {
        if (/^circle[A-Z]\w*Id$/.test(key) || key === 'txHash' || key === 'issuerCardId') fields[key] = value
      }
      const failure = data.failure as { code?: string; message?: string } | undefined
      if (failure?.code) fields.failureCode = failure.code
      logger.info(fields, stepMessage(event.type, failure?.code))
    }
  }
}

/** `MintSubmitted` -> "mint submitted"; a failure names its code. */
export function stepMessage(type: string, failureCode?: string): string {
  const words = type.replace(/([a-z0-9])([A-Z])/g, '$1 $2').toLowerCase()
  return failureCode ? `${words}: ${failureCode}` : words
}
