import type { Config } from '../config.ts'
import { positionFits } from '../events/event-store.ts'
import { positionKey } from '../ledger/position-key.ts'
import { UsageError } from './context.ts'

/** `--name value` options of one command; anything else is a usage error. */
export function parseOptions<K extends string>(args: string[], names: readonly K[]): Partial<Record<K, string>> {
  const out: Partial<Record<K, string>> = {}
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]
    if (arg === undefined) break
    const name = arg.startsWith('--') ? (arg.slice(2) as K) : undefined
    if (name === undefined || !names.includes(name)) throw new UsageError(`unexpected argument ${arg}`)
    const value = args[++i]
    if (value === undefined || value.startsWith('--')) throw new UsageError(`--${name} needs a value`)
    out[name] = value
  }
  return out
}

const POSITION_EXAMPLE: Record<Config['EVENT_STORE'], string> = { postgres: '1042', kurrentdb: '00000000000000001042/00000000000000001042' }

/** A position of the configured store's log, in its own form (`0` is before the first event). */
export function positionOption(value: string | undefined, name: string, kind: Config['EVENT_STORE']): string | undefined {
  if (value === undefined) return undefined
  if (value !== '0' && !positionFits(kind, value)) throw new UsageError(`--${name} must be a position of the event log, such as ${POSITION_EXAMPLE[kind]}`)
  return value
}

/** Refuses a range whose end comes before its start. */
export function orderedRange(from: { name: string; value: string | undefined }, to: { name: string; value: string | undefined }): void {
  if (from.value !== undefined && to.value !== undefined && positionKey(to.value) < positionKey(from.value)) throw new UsageError(`--${to.name} comes before --${from.name}`)
}

/** A command or action that takes no arguments. */
export function noArguments(args: string[]): void {
  if (args.length > 0) throw new UsageError(`unexpected argument ${args[0]}`)
}
