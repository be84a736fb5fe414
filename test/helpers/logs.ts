import { Writable } from 'node:stream'
import pino, { type Logger } from 'pino'
import { createLogger, type LogFormat } from '../../src/logger.ts'

/** A logger whose lines are kept in memory: parsed JSON lines, or raw text for the pretty format. */
export function capturedLogger(level = 'debug', format: LogFormat = 'json'): { logger: Logger; lines: Record<string, unknown>[]; text: () => string } {
  const chunks: string[] = []
  const lines: Record<string, unknown>[] = []
  const destination = new Writable({
    write(chunk, _encoding, done) {
      chunks.push(String(chunk))
      if (format === 'json') for (const line of String(chunk).split('\n')) if (line.trim() !== '') lines.push(JSON.parse(line) as Record<string, unknown>)
      done()
    },
  })
  const logger = createLogger(level, { format, destination: destination as unknown as pino.DestinationStream })
  return {
    logger,
    lines,
    text: () => chunks.join(''),
  }
}
