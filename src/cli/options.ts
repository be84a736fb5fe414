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

const POSITION = /^[0-9]{1,20}(\/[0-9]{1,20})?$/

export function positionOption(value: string | undefined, name: string): string | undefined {
  if (value === undefined) return undefined
  if (!POSITION.test(value)) throw new UsageError(`--${name} must be a position of the event log, such as 1042`)
  return value
}
