import type { CliCommand } from '../context.ts'
import { audit } from './audit.ts'
import { journal } from './journal.ts'
import { migrate } from './migrate.ts'
import { projections } from './projections.ts'
import { replay } from './replay.ts'

/** Every CLI command by name; a new command is one file here and one line below. */
export const commands: Record<string, CliCommand> = {
  migrate,
  projections,
  replay,
  audit,
  journal,
}
