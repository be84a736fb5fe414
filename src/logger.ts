import pino, { type Logger } from 'pino'

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

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino({ level, redact: { paths: redactPaths, censor: '[redacted]' }, base: { service: 'circle-ledger' } }, destination)
}
